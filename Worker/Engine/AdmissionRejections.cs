using System.Collections.Concurrent;

namespace Worker.Engine;

/// <summary>
/// Requests refused at admission, by reason, counted on request threads. The host keeps one for the worker's lifetime
/// and hands it to each engine it starts, so the counts outlive an engine stopped for sleep and the counter never drops.
/// </summary>
public sealed class AdmissionRejections
{
    public const string MaxNumQueuedRequests = "max_num_queued_requests";
    public const string MaxNumQueuedTokens = "max_num_queued_tokens";

    private readonly ConcurrentDictionary<string, long> _counts = new() { [MaxNumQueuedRequests] = 0, [MaxNumQueuedTokens] = 0 };

    /// <summary>Read live: no copy per read.</summary>
    public IReadOnlyDictionary<string, long> Counts => _counts;

    internal void Count(string reason) => _counts.AddOrUpdate(reason, 1, (_, count) => count + 1);
}
