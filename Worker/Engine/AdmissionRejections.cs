using System.Collections.Concurrent;

namespace Worker.Engine;

/// <summary>
/// Requests refused at admission, by reason, counted on request threads. The host keeps one for the worker's lifetime
/// and hands it to each engine it starts, so the counts outlive an engine stopped for sleep and the counter never drops.
/// </summary>
public sealed class AdmissionRejections
{
    /// <summary>The reasons as vLLM's vllm:admission_rejections spells them (PR #55812), after its admission limits (PR #49445).</summary>
    public static readonly string MaxNumQueuedRequests = MetricsContract.MetricCatalog.AdmissionRejections.EnumeratedLabels["reason"][0];

    public static readonly string MaxNumQueuedTokens = MetricsContract.MetricCatalog.AdmissionRejections.EnumeratedLabels["reason"][1];

    private readonly ConcurrentDictionary<string, long> _counts = new() { [MaxNumQueuedRequests] = 0, [MaxNumQueuedTokens] = 0 };

    /// <summary>Read live: no copy per read.</summary>
    public IReadOnlyDictionary<string, long> Counts => _counts;

    internal void Count(string reason) => _counts.AddOrUpdate(reason, 1, (_, count) => count + 1);
}
