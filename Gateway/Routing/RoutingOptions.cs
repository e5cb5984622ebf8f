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
}
