namespace Worker.Engine;

/// <summary>The engine's own counts after its latest step: what tests and operators check for leaks and load.</summary>
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
    IReadOnlyDictionary<string, long> Rejected)
{
    public double KvCacheUsage => TotalBlocks == 0 ? 0 : (double)UsedBlocks / TotalBlocks;
}
