using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Worker.Runner;

namespace Worker.KvTransfer;

/// <summary>How a pull ended: a completed read and its telemetry, or why there was none; and whether the producer heard that it may free its copy.</summary>
/// <param name="Failure">Why the read failed (handshake refused, blocks expired, connection lost); null when it completed or none was needed.</param>
/// <summary>Where a pull stands, for vllm:num_requests_kv_fetch_by_stage.</summary>
internal enum KvFetchStage
{
    /// <summary>Connecting, comparing layouts, the read posted and not yet accepted.</summary>
    Handshake,
    /// <summary>The producer accepted the read; blocks are arriving (or the producer is being notified).</summary>
    Transferring,
}

internal sealed record KvPullResult(bool Read, string? Failure, long Bytes, int Descriptors, double PostSeconds, double TransferSeconds, bool NotificationFailed);

/// <summary>
/// The decode side of one request's transfer, on a thread of its own: connect to the producer named in the request's
/// kv_transfer_params, compare layouts (handshake), read the needed consecutive blocks straight into this worker's
/// slot, then notify the producer that it may free them. With no block to read (the decode side's own prefix cache
/// had them all) it only notifies. The engine polls <see cref="Completion"/>; the slot is not reused until it completes.
/// </summary>
internal sealed class KvPull
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(30);
    private readonly Socket _socket = new(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = (int)IoTimeout.TotalMilliseconds, SendTimeout = (int)IoTimeout.TotalMilliseconds };
    private readonly KvLayout _layout;
    private readonly KvArena _arena;
    private readonly KvTransferParams _remote;
    private readonly int _slot;
    private readonly int _firstBlock;
    private readonly int _blocks;
    private readonly string? _loraName;
    private volatile bool _cancelled;

    /// <param name="firstBlock">The first of the request's blocks to read (blocks before it are already in the slot), by its index in remote_block_ids.</param>
    private KvPull(KvLayout layout, KvArena arena, KvTransferParams remote, int slot, int firstBlock, int blocks, string? loraName, Action completed)
    {
        _loraName = loraName;
        _layout = layout;
        _arena = arena;
        _remote = remote;
        _slot = slot;
        _firstBlock = firstBlock;
        _blocks = blocks;
        Completion = Task.Factory.StartNew(Run, TaskCreationOptions.LongRunning);
        Completion.ContinueWith(_ => completed(), TaskScheduler.Default);
    }

    public Task<KvPullResult> Completion { get; }

    /// <summary>Written by the pull's thread, read by the engine's as it takes a snapshot.</summary>
    public KvFetchStage Stage => (KvFetchStage)Volatile.Read(ref _stage);

    private int _stage = (int)KvFetchStage.Handshake;

    /// <summary>Positions [start, end) of the slot the pull writes.</summary>
    public (int Start, int End) Positions => (_firstBlock * _layout.BlockSize, (_firstBlock + _blocks) * _layout.BlockSize);

    public static KvPull Start(KvLayout layout, KvArena arena, KvTransferParams remote, int slot, int firstBlock, int blocks, string? loraName, Action completed) =>
        new(layout, arena, remote, slot, firstBlock, blocks, loraName, completed);

    /// <summary>Stops the pull (its request was aborted): the socket closes under it, and it completes soon after.</summary>
    public void Cancel()
    {
        _cancelled = true;
        _socket.Dispose();
    }

    private KvPullResult Run()
    {
        long posted = 0, accepted = 0, arrived = 0;
        try
        {
            using (var connecting = new CancellationTokenSource(ConnectTimeout))
            {
                _socket.ConnectAsync(_remote.RemoteHost!, _remote.RemotePort!.Value, connecting.Token).AsTask().GetAwaiter().GetResult();
            }
            KvWire.Send(_socket, KvFrame.Hello, new KvHello(_layout));
            var hello = KvWire.Expect(_socket, KvFrame.HelloOk).Deserialize<KvHelloOk>(KvWire.Json)!;
            if (hello.EngineId != _remote.RemoteEngineId)
            {
                return Failed($"the worker at {_remote.RemoteHost}:{_remote.RemotePort} is engine {hello.EngineId}, not {_remote.RemoteEngineId}");
            }
            if (_blocks > 0)
            {
                posted = Stopwatch.GetTimestamp();
                var ids = _remote.RemoteBlockIds!.Skip(_firstBlock).Take(_blocks).ToArray();
                KvWire.Send(_socket, KvFrame.Read, new KvRead(_remote.RemoteRequestId!, ids, _loraName));
                var bytes = KvWire.Expect(_socket, KvFrame.ReadOk).Deserialize<KvReadOk>(KvWire.Json)!.Bytes;
                accepted = Stopwatch.GetTimestamp();
                Volatile.Write(ref _stage, (int)KvFetchStage.Transferring);
                if (bytes != _blocks * _layout.BlockBytes)
                {
                    return Failed($"the producer offered {bytes} bytes for {_blocks} blocks of {_layout.BlockBytes}");
                }
                var (start, end) = Positions;
                KvWire.ReceiveRegions(_socket, _arena, _arena.Regions(_slot, start, end));
                arrived = Stopwatch.GetTimestamp();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException or JsonException
            or KvTransferRefusedException or OperationCanceledException)
        {
            return Failed(_cancelled ? "cancelled" : e.Message);
        }
        var notificationFailed = !Notify();
        _socket.Dispose();
        return _blocks == 0
            ? new KvPullResult(false, null, 0, 0, 0, 0, notificationFailed)
            : new KvPullResult(true, null, _blocks * _layout.BlockBytes, _blocks * _layout.DescriptorsPerBlock,
                Stopwatch.GetElapsedTime(posted, accepted).TotalSeconds, Stopwatch.GetElapsedTime(posted, arrived).TotalSeconds, notificationFailed);

        KvPullResult Failed(string why)
        {
            _socket.Dispose();
            return new KvPullResult(false, why, 0, 0, 0, 0, false);
        }
    }

    /// <summary>Tells the producer it may free the request's KV; false when that could not be delivered.</summary>
    private bool Notify()
    {
        try
        {
            KvWire.Send(_socket, KvFrame.Done, new KvDone(_remote.RemoteRequestId!));
            KvWire.Expect(_socket, KvFrame.DoneOk);
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException or JsonException or KvTransferRefusedException)
        {
            return false;
        }
    }
}
