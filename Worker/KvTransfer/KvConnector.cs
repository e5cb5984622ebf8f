using Worker.Runner;

namespace Worker.KvTransfer;

/// <summary>
/// vLLM's KV connector for one engine (--kv-transfer-config): as a producer it holds finished prefills and serves
/// reads of them (<see cref="Producer"/>); as a consumer it pulls a request's prompt KV into the slot the scheduler
/// gave it. The scheduler decides when; the connector moves bytes and wakes the engine when something completes.
/// </summary>
public sealed class KvConnector : IDisposable
{
    private Action _wake = () => { };

    internal KvConnector(KvTransferConfig config, KvLayout layout, KvArena arena, ILogger logger)
    {
        Config = config;
        Layout = layout;
        Arena = arena;
        Producer = config.Produces ? new KvProducer(config, layout, arena, () => _wake(), logger) : null;
    }

    public KvTransferConfig Config { get; }

    public KvLayout Layout { get; }

    internal KvArena Arena { get; }

    /// <summary>The held prefills and the server that reads them; null on a consumer-only worker.</summary>
    internal KvProducer? Producer { get; }

    /// <summary>The engine's wake-up: a pull that completes or a hold that expires must not wait for the next request.</summary>
    public void OnProgress(Action wake) => _wake = wake;

    /// <summary>Starts reading <paramref name="blocks"/> of the request's remote blocks, from index <paramref name="firstBlock"/>, into <paramref name="slot"/>.</summary>
    /// <param name="loraName">The adapter the request runs under (null: the base): the producer's KV must have been computed under the same.</param>
    internal KvPull Pull(KvTransferParams remote, int slot, int firstBlock, int blocks, string? loraName) =>
        KvPull.Start(Layout, Arena, remote, slot, firstBlock, blocks, loraName, () => _wake());

    public void Dispose() => Producer?.Dispose();
}
