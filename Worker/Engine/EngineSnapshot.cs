namespace Worker.Engine;

/// <summary>The engine's own counts after its latest step: what tests and operators check for leaks and load.</summary>
/// <param name="Waiting">Queued sequences, <paramref name="Deferred"/> included.</param>
/// <param name="Deferred">Sequences waiting while their prompt's KV is read from a prefill worker.</param>
/// <param name="HeldForTransfer">Finished prefills whose KV is held for a decode worker to read.</param>
/// <param name="Rejected">Requests refused at admission, by reason: counted on request threads, read live (not a copy per turn).</param>
/// <param name="Lora">LoRA adapters running, waiting and resident; null when LoRA is off.</param>
/// <param name="WaitingTokens">Tokens of the sequences waiting for capacity (prompt, plus output so far when preempted).</param>
/// <param name="WaitingUncachedTokens">Of those, the ones the prefix cache did not hold when each queued.</param>
/// <param name="KvFetches">Requests this P/D consumer reads prompt KV for, by stage.</param>
/// <param name="Paused">Generation is paused (POST /pause): the engine runs no step; new requests queue as waiting.</param>
public sealed record EngineSnapshot(
    int Running,
    int Waiting,
    int ActiveRequests,
    int SlotsInUse,
    long Steps,
    int TotalBlocks,
    int UsedBlocks,
    int CachedBlocks,
    int FreeBlocks,
    int PrefixPoolEntries,
    long PrefixQueries,
    long PrefixHits,
    long Preemptions,
    IReadOnlyDictionary<string, long> Finished,
    IReadOnlyDictionary<string, long> Rejected,
    int Deferred = 0,
    int HeldForTransfer = 0,
    bool Paused = false,
    LoraAdapterStates? Lora = null,
    long WaitingTokens = 0,
    long WaitingUncachedTokens = 0,
    KvFetchCounts? KvFetches = null)
{
    public double KvCacheUsage => TotalBlocks == 0 ? 0 : (double)UsedBlocks / TotalBlocks;
}

/// <summary>A P/D consumer's prompt-KV reads by stage: queued for a slot and blocks, in handshake, transferring.</summary>
public sealed record KvFetchCounts(int Queued, int Handshake, int Transferring);
