using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;
using Worker.Runner;

namespace Worker.KvTransfer;

/// <summary>The messages of the KV transfer protocol: a JSON control frame each; block data follows a ReadOk raw.</summary>
internal enum KvFrame : byte
{
    /// <summary>Decode → prefill: its KV layout, to be compared.</summary>
    Hello = 1,
    /// <summary>Prefill → decode: the layouts match; its engine id.</summary>
    HelloOk = 2,
    /// <summary>Either way: a refusal with a code (kv_layout_mismatch, unknown_transfer, expired, invalid_blocks, lora_mismatch) and a message.</summary>
    Error = 3,
    /// <summary>Decode → prefill: read these consecutive blocks of this held request.</summary>
    Read = 4,
    /// <summary>Prefill → decode: the read is accepted; its bytes follow.</summary>
    ReadOk = 5,
    /// <summary>Decode → prefill: the notification that the held request's KV may be freed.</summary>
    Done = 6,
    DoneOk = 7,
}

/// <summary>
/// Frames and block data on a connected socket, blocking, on the caller's thread. A frame is a little-endian int32
/// length, a type byte and a UTF-8 JSON payload. Block data moves between the socket and the KV arena's memory in
/// place on host memory, through a bounded staging buffer on device memory: a GiB-scale cache never sits in a managed array.
/// </summary>
internal static class KvWire
{
    private const int MaxFrameBytes = 1 << 20;
    private const int StagingBytes = 4 << 20;

    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Send<T>(Socket socket, KvFrame type, T payload)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(payload, Json);
        var frame = new byte[5 + json.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, json.Length);
        frame[4] = (byte)type;
        json.CopyTo(frame, 5);
        SendAll(socket, frame);
    }

    public static (KvFrame Type, JsonElement Payload) Receive(Socket socket)
    {
        Span<byte> header = stackalloc byte[5];
        ReceiveAll(socket, header);
        var length = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (length is < 0 or > MaxFrameBytes)
        {
            throw new InvalidDataException($"A KV transfer frame of {length} bytes is not a frame of this protocol.");
        }
        var json = new byte[length];
        ReceiveAll(socket, json);
        return ((KvFrame)header[4], JsonDocument.Parse(json).RootElement);
    }

    /// <summary>Receives a frame and checks it is <paramref name="expected"/>; an Error frame becomes a <see cref="KvTransferRefusedException"/>.</summary>
    public static JsonElement Expect(Socket socket, KvFrame expected)
    {
        var (type, payload) = Receive(socket);
        if (type == KvFrame.Error)
        {
            throw new KvTransferRefusedException(payload.GetProperty("code").GetString()!, payload.GetProperty("message").GetString()!);
        }
        return type == expected ? payload : throw new InvalidDataException($"Expected a {expected} frame, got {type}.");
    }

    public static void SendRegions(Socket socket, KvArena arena, IEnumerable<(nint Start, long Bytes)> regions) =>
        InChunks(arena, regions, toSocket: true, chunk => SendAll(socket, chunk));

    public static void ReceiveRegions(Socket socket, KvArena arena, IEnumerable<(nint Start, long Bytes)> regions) =>
        InChunks(arena, regions, toSocket: false, chunk => ReceiveAll(socket, chunk));

    private delegate void ChunkIo(Span<byte> chunk);

    /// <summary>
    /// Walks the regions in chunks a span can hold: on host memory each chunk is the arena's own memory; on device memory
    /// it passes through the staging buffer, copied out before it is sent or in after it is received.
    /// </summary>
    private static unsafe void InChunks(KvArena arena, IEnumerable<(nint Start, long Bytes)> regions, bool toSocket, ChunkIo io)
    {
        var staging = arena.Memory.IsHostAddressable ? null : new byte[StagingBytes];
        foreach (var (start, bytes) in regions)
        {
            for (long offset = 0; offset < bytes;)
            {
                var length = (int)Math.Min(bytes - offset, staging?.Length ?? int.MaxValue);
                var address = start + (nint)offset;
                if (staging is null)
                {
                    io(new Span<byte>((void*)address, length));
                }
                else if (toSocket)
                {
                    arena.Memory.CopyToHost(address, staging.AsSpan(0, length));
                    io(staging.AsSpan(0, length));
                }
                else
                {
                    io(staging.AsSpan(0, length));
                    arena.Memory.CopyFromHost(staging.AsSpan(0, length), address);
                }
                offset += length;
            }
        }
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            data = data[socket.Send(data)..];
        }
    }

    private static void ReceiveAll(Socket socket, Span<byte> data)
    {
        while (data.Length > 0)
        {
            var received = socket.Receive(data);
            if (received == 0)
            {
                throw new IOException("The KV transfer connection closed mid-message.");
            }
            data = data[received..];
        }
    }
}

/// <summary>The other side refused a step of the transfer, with its code and reason.</summary>
internal sealed class KvTransferRefusedException(string code, string message) : Exception($"{code}: {message}")
{
    public string Code { get; } = code;
}

/// <summary>What the decode side says of itself in its Hello.</summary>
internal sealed record KvHello(KvLayout Layout);

internal sealed record KvHelloOk(string EngineId, KvLayout Layout);

internal sealed record KvError(string Code, string Message);

/// <param name="LoraName">The reader's adapter (null: the base); KV computed under another is refused (lora_mismatch).</param>
internal sealed record KvRead(string RequestId, int[] BlockIds, string? LoraName = null);

internal sealed record KvReadOk(long Bytes);

internal sealed record KvDone(string RequestId);

internal sealed record KvDoneOk;
