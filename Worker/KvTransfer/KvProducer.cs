using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Worker.Runner;

namespace Worker.KvTransfer;

/// <summary>
/// The prefill side: holds the KV of requests marked do_remote_decode in their slots and serves reads of it over TCP.
/// A held request is freed when the decode side notifies that it has read it, or, unread, after the abort timeout
/// (counted as expired). A read in progress is never expired under the reader. The engine thread holds and frees;
/// connection threads only read held slots, whose positions nothing else writes while they are held.
/// </summary>
internal sealed partial class KvProducer : IDisposable
{
    private readonly KvTransferConfig _config;
    private readonly KvLayout _layout;
    private readonly KvArena _arena;
    private readonly Action _wake;
    private readonly ILogger _logger;
    private readonly TcpListener _listener;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HeldKv> _held = [];
    private readonly HashSet<string> _expired = [];
    private readonly Queue<string> _expiredOrder = new();
    private readonly List<(Socket Socket, Task Serving)> _connections = [];
    private readonly Task _accepting;
    private long _transfers;

    public KvProducer(KvTransferConfig config, KvLayout layout, KvArena arena, Action wake, ILogger logger)
    {
        _config = config;
        _layout = layout;
        _arena = arena;
        _wake = wake;
        _logger = logger;
        _listener = new TcpListener(IPAddress.Parse(config.Host), config.Port);
        try
        {
            _listener.Start();
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException(
                $"Cannot serve held KV on {config.Host}:{config.Port} ({e.Message}): set another \"kv_port\" in --kv-transfer-config, or 0 for any free port.", e);
        }
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        AdvertisedHost = config.AdvertiseHost ?? (config.Host is "0.0.0.0" or "::" ? Dns.GetHostName() : config.Host);
        _accepting = Task.Factory.StartNew(Accept, TaskCreationOptions.LongRunning);
    }

    /// <summary>The port reads are served on (kv_port, or the one taken for kv_port 0).</summary>
    public int Port { get; }

    /// <summary>The host the decode side is told to connect to: advertise_host, else kv_ip, or this machine's name when kv_ip listens on every address.</summary>
    public string AdvertisedHost { get; }

    /// <summary>
    /// Called on the connection's thread after each contiguous region of a read has been sent: where tests pause a read
    /// (the request stays deferred) or break it off (what a producer dying mid-read looks like to the reader).
    /// </summary>
    internal Action<int>? RegionSent { get; set; }

    public int HeldCount
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Holds a finished prefill's slot (its first <paramref name="tokens"/> positions) for a decode worker; returns the request's kv_transfer_params.</summary>
    public Dictionary<string, object?> Hold(string requestId, int slot, int tokens, string? loraName)
    {
        var first = slot * (_arena.Capacity / _layout.BlockSize);
        var blocks = (tokens + _layout.BlockSize - 1) / _layout.BlockSize;
        var id = $"{requestId}-{Interlocked.Increment(ref _transfers)}";
        lock (_lock)
        {
            _held[id] = new HeldKv(slot, first, blocks, Stopwatch.GetTimestamp() + (long)(_config.AbortRequestTimeout.TotalSeconds * Stopwatch.Frequency), loraName);
        }
        // The engine may be idle when the hold expires: wake it to free the slot.
        _ = Task.Delay(_config.AbortRequestTimeout + TimeSpan.FromMilliseconds(20)).ContinueWith(_ => _wake(), TaskScheduler.Default);
        return MetricsContract.KvTransferContract.Held(_config.EngineId, AdvertisedHost, Port, id, Enumerable.Range(first, blocks).ToArray(), tokens,
            DateTimeOffset.UtcNow + _config.AbortRequestTimeout);
    }

    /// <summary>For the engine thread: the held slots to free now (read and notified, or expired unread), and how many expired.</summary>
    public (List<int> Slots, int Expired) TakeReleases(bool all = false)
    {
        var released = new List<int>();
        var expired = 0;
        var now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            foreach (var (id, held) in _held.ToArray())
            {
                var expires = !held.Reading && now >= held.Deadline;
                if (all || held.Notified || expires)
                {
                    _held.Remove(id);
                    released.Add(held.Slot);
                    if (expires && !held.Notified && !all)
                    {
                        expired++;
                        RememberExpired(id);
                    }
                }
            }
        }
        return (released, expired);
    }

    /// <summary>Remembers the latest expired holds, so a late read is told "expired" rather than "unknown".</summary>
    private void RememberExpired(string id)
    {
        _expired.Add(id);
        _expiredOrder.Enqueue(id);
        if (_expiredOrder.Count > 4096)
        {
            _expired.Remove(_expiredOrder.Dequeue());
        }
    }

    private void Accept()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = _listener.AcceptSocket();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            lock (_lock)
            {
                _connections.RemoveAll(c => c.Serving.IsCompleted);
                _connections.Add((socket, Task.Factory.StartNew(() => Serve(socket), TaskCreationOptions.LongRunning)));
            }
        }
    }

    private void Serve(Socket socket)
    {
        try
        {
            socket.NoDelay = true;
            var hello = KvWire.Expect(socket, KvFrame.Hello).Deserialize<KvHello>(KvWire.Json)!;
            if (_layout.Mismatch(hello.Layout) is { } why)
            {
                Log.HandshakeRefused(_logger, socket.RemoteEndPoint?.ToString(), why);
                KvWire.Send(socket, KvFrame.Error, new KvError("kv_layout_mismatch", $"This worker cannot give its KV to yours: {why}."));
                return;
            }
            KvWire.Send(socket, KvFrame.HelloOk, new KvHelloOk(_config.EngineId, _layout));
            while (true)
            {
                var (type, payload) = KvWire.Receive(socket);
                switch (type)
                {
                    case KvFrame.Read:
                        ServeRead(socket, payload.Deserialize<KvRead>(KvWire.Json)!);
                        break;
                    case KvFrame.Done:
                        var done = payload.Deserialize<KvDone>(KvWire.Json)!;
                        if (Notify(done.RequestId))
                        {
                            KvWire.Send(socket, KvFrame.DoneOk, new KvDoneOk());
                            _wake();
                        }
                        else
                        {
                            KvWire.Send(socket, KvFrame.Error, new KvError("unknown_transfer", $"No KV is held for '{done.RequestId}'."));
                        }
                        break;
                    default:
                        throw new InvalidDataException($"Unexpected {type} frame.");
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException or JsonException or KvTransferRefusedException)
        {
            // The decode side went away, or spoke nonsense: its reads were released as they ended.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private void ServeRead(Socket socket, KvRead read)
    {
        HeldKv? held;
        string? refusal;
        lock (_lock)
        {
            refusal = CheckRead(read, out held);
            if (held is not null)
            {
                held.Reading = true;
            }
        }
        if (refusal is not null)
        {
            KvWire.Send(socket, KvFrame.Error, new KvError(refusal, $"Cannot read blocks [{string.Join(", ", read.BlockIds)}] of '{read.RequestId}': {refusal}."));
            return;
        }
        try
        {
            var start = (read.BlockIds[0] - held!.FirstBlockId) * _layout.BlockSize;
            var end = (read.BlockIds[^1] - held.FirstBlockId + 1) * _layout.BlockSize;
            KvWire.Send(socket, KvFrame.ReadOk, new KvReadOk(read.BlockIds.Length * _layout.BlockBytes));
            var regions = _arena.Regions(held.Slot, start, end);
            for (var i = 0; i < regions.Count; i++)
            {
                KvWire.SendRegions(socket, _arena, [regions[i]]);
                RegionSent?.Invoke(i);
            }
        }
        finally
        {
            lock (_lock)
            {
                held!.Reading = false;
            }
        }
    }

    /// <returns>Why the read is refused, or null; <paramref name="held"/> is set when it is not.</returns>
    private string? CheckRead(KvRead read, out HeldKv? held)
    {
        held = null;
        if (!_held.TryGetValue(read.RequestId, out var entry) || entry.Notified)
        {
            return _expired.Contains(read.RequestId) ? "expired" : "unknown_transfer";
        }
        var ids = read.BlockIds;
        var consecutive = ids.Length > 0 && ids.Select((id, i) => id - i).Distinct().Count() == 1;
        if (!consecutive || ids[0] < entry.FirstBlockId || ids[^1] >= entry.FirstBlockId + entry.Blocks)
        {
            return "invalid_blocks";
        }
        if (entry.LoraName != read.LoraName)
        {
            return "lora_mismatch"; // computed under another adapter (or the base): never another's KV
        }
        held = entry;
        return null;
    }

    private bool Notify(string requestId)
    {
        lock (_lock)
        {
            if (!_held.TryGetValue(requestId, out var held))
            {
                return false;
            }
            held.Notified = true;
            return true;
        }
    }

    /// <summary>Stops serving: the listener and every connection close, and no connection thread touches the arena afterwards.</summary>
    public void Dispose()
    {
        _listener.Stop();
        (Socket Socket, Task Serving)[] connections;
        lock (_lock)
        {
            connections = [.. _connections];
        }
        foreach (var (socket, _) in connections)
        {
            socket.Dispose();
        }
        Task.WaitAll([_accepting, .. connections.Select(c => c.Serving)], TimeSpan.FromSeconds(10));
    }

    private sealed class HeldKv(int slot, int firstBlockId, int blocks, long deadline, string? loraName)
    {
        /// <summary>The adapter the prefill ran under; null for the base.</summary>
        public string? LoraName { get; } = loraName;

        public int Slot { get; } = slot;

        public int FirstBlockId { get; } = firstBlockId;

        public int Blocks { get; } = blocks;

        public long Deadline { get; } = deadline;

        public bool Reading { get; set; }

        public bool Notified { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Refused a KV transfer handshake from {Remote}: {Why}.")]
        public static partial void HandshakeRefused(ILogger logger, string? remote, string why);
    }
}
