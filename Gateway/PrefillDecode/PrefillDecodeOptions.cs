namespace Gateway.PrefillDecode;

/// <summary>
/// The gateway's P/D mode (configuration section "PrefillDecode"): on when the YARP cluster named
/// <see cref="PrefillCluster"/> has destinations (workers started with kv_role kv_producer or kv_both); the route's own
/// cluster is the decode pool.
/// </summary>
public sealed class PrefillDecodeOptions
{
    public const string Section = "PrefillDecode";

    public string PrefillCluster { get; set; } = "prefill";

    /// <summary>
    /// llm-d's nonCachedTokens: a prompt is split only when its tokens, less those the decode worker probably has cached,
    /// reach this many; a shorter one costs the decode worker less to compute than a transfer costs to set up. 0 never splits.
    /// </summary>
    public int MinUncachedPromptTokens { get; set; } = 128;

    /// <summary>The workers' --block-size: the unit of the gateway's estimate of what each decode worker has cached.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>How long a prefill leg may take before the gateway gives up on it and lets the decode worker prefill.</summary>
    public TimeSpan PrefillTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
