namespace MetricsContract;

public enum MetricKind
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>Which part of the catalog a family belongs to (vLLM's docs groups, plus this project's own).</summary>
public enum MetricGroup
{
    General,
    Mfu,
    SpecDecode,
    /// <summary>vLLM's NIXL KV connector group: moving KV caches between prefill and decode workers.</summary>
    Nixl,
    /// <summary>The worker's HTTP API itself, apart from the engine: kept with --disable-log-stats.</summary>
    WorkerApi,
    Gateway,
}

/// <summary>When a family is registered at all.</summary>
public enum MetricCondition
{
    Always,
    /// <summary>--kv-cache-metrics.</summary>
    KvCacheMetrics,
    /// <summary>Environment VLLM_COMPUTE_NANS_IN_LOGITS=1, as in vLLM.</summary>
    NansInLogits,
    /// <summary>A --speculative-config.</summary>
    SpeculativeDecoding,
    /// <summary>A --kv-transfer-config (vLLM registers the NIXL families only with its NixlConnector).</summary>
    KvConnector,
    /// <summary>A --kv-transfer-config whose role consumes (kv_consumer or kv_both): the worker reads prompts' KV.</summary>
    KvConsumer,
    /// <summary>--enable-lora.</summary>
    Lora,
}

/// <summary>A deprecated family: since which version, and what replaces it.</summary>
public sealed record Deprecation(Version Since, string Successor)
{
    /// <summary>vLLM's policy: hidden from the next minor version (unless shown), removed in the one after.</summary>
    public Version HiddenFrom => new(Since.Major, Since.Minor + 1);

    public Version RemovedIn => new(Since.Major, Since.Minor + 2);
}

/// <summary>
/// One metric family as it is exposed: its name (the instrument name; counters gain "_total" on the wire), kind,
/// label keys in declaration order, the values of each enumerated label (pre-created at zero), buckets, help
/// text, and stability. Everything that names, labels or buckets a metric reads it from here.
/// </summary>
public sealed record MetricFamily(
    string Name,
    MetricKind Kind,
    string Help,
    IReadOnlyList<string> Labels,
    MetricGroup Group,
    MetricCondition Condition = MetricCondition.Always,
    Buckets? Buckets = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? LabelValues = null,
    Deprecation? Deprecated = null)
{
    /// <summary>The family name on the wire: Prometheus counters end in _total.</summary>
    public string ExposedName => Kind == MetricKind.Counter && !Name.EndsWith("_total", StringComparison.Ordinal) ? Name + "_total" : Name;

    /// <summary>The help text, with vLLM's deprecation notice when deprecated.</summary>
    public string Description => Deprecated is { } d ? $"{Help} DEPRECATED: use {d.Successor} instead." : Help;

    public IReadOnlyDictionary<string, IReadOnlyList<string>> EnumeratedLabels => LabelValues ?? new Dictionary<string, IReadOnlyList<string>>();
}
