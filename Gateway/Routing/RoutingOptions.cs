namespace Gateway.Routing;

/// <summary>
/// The load-aware policy's settings (configuration section "Routing"), after the Gateway API Inference Extension's
/// endpoint picker: poll each worker's load every 50 ms, treat a reading older than 2 s as stale.
/// </summary>
public sealed class RoutingOptions
{
    public const string Section = "Routing";

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>A worker's reading older than this is not used: the policy then balances by the gateway's own in-flight counts.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Characters per prefix chunk for prefix affinity (about 16 tokens of English: vLLM's block size).</summary>
    public int PrefixChunkCharacters { get; set; } = 64;

    /// <summary>A worker with more waiting requests than this is saturated: prefix affinity does not send it more.</summary>
    public int SaturatedWaiting { get; set; } = 4;

    /// <summary>A worker whose KV cache is fuller than this is saturated (GAIE's saturation detector uses 0.8).</summary>
    public double SaturatedKvCacheUsage { get; set; } = 0.8;

    /// <summary>
    /// What a LoRA adapter's affinity weighs in a worker's cost, times (1 − GAIE's score): 10 makes a worker without the
    /// adapter and without a free slot (score 0, the request would wait for a running adapter to finish) cost as much as
    /// 2.5 waiting requests; a free slot (0.8) costs 2, half a waiting request (loading an adapter is cheap beside a
    /// turn in the queue); where it already waits (0.6), 4, one waiting request. A worker running the adapter wins
    /// until it has about 2.5 requests more waiting than the others.
    /// </summary>
    public double LoraAffinityWeight { get; set; } = 10;
}
