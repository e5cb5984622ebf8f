using Microsoft.Extensions.Configuration;
using MetricsContract;

namespace ServiceDefaults.Metrics;

/// <summary>
/// The decisions the metric pipeline takes from the process's settings (configuration section "Metrics";
/// the worker maps vLLM's flags onto it): which families exist, whether exemplars are kept, and what the
/// max_model_len-dependent buckets are. One instance per process, created before the meter provider.
/// </summary>
public sealed class MetricsPolicy
{
    public const string Section = "Metrics";

    private readonly HashSet<MetricCondition> _enabled = [MetricCondition.Always];
    private EagerHistogramSeries[] _pendingEagerHistograms = [];
    private readonly Lock _lock = new();

    /// <summary>--enable-exemplars: request ids (and trace ids) travel with measurements as exemplars.</summary>
    public bool EnableExemplars { get; init; }

    /// <summary>--disable-log-stats: the engine's vLLM families are not registered at all.</summary>
    public bool DisableLogStats { get; init; }

    /// <summary>--enable-mfu-metrics: the MFU counters move (they exist either way).</summary>
    public bool EnableMfuMetrics { get; init; }

    /// <summary>--kv-cache-metrics-sample: the fraction of KV blocks whose residency is sampled.</summary>
    public double KvCacheMetricsSample { get; init; } = 0.01;

    /// <summary>This build's version (major.minor of the assembly's informational version): what deprecations are measured against.</summary>
    public Version Version { get; init; } = CurrentVersion;

    /// <summary>--show-hidden-metrics-for-version: the previous minor version, whose deprecated metrics are shown again.</summary>
    public Version? ShowHiddenMetricsForVersion { get; init; }

    public static Version CurrentVersion { get; } = ReadVersion();

    /// <summary>max_model_len, for the 1-2-5 token buckets; set by the worker before it creates its instruments.</summary>
    public int MaxModelLength { get; set; } = 4096;

    /// <summary>--custom-histogram-buckets: bucket lists replaced, by the default list they replace.</summary>
    public IReadOnlyDictionary<Buckets, double[]> CustomBuckets { get; init; } = new Dictionary<Buckets, double[]>();

    /// <summary>The bounds a histogram family has in this process: its custom list if one was given, else its own.</summary>
    public double[] BoundsOf(MetricFamily family) =>
        CustomBuckets.TryGetValue(family.Buckets!, out var custom) ? custom : family.Buckets!.Bounds(MaxModelLength);

    public static MetricsPolicy From(IConfiguration configuration, Version? version = null)
    {
        var section = configuration.GetSection(Section);
        var current = version ?? CurrentVersion;
        var policy = new MetricsPolicy
        {
            Version = current,
            ShowHiddenMetricsForVersion = ParseShowHidden(section["ShowHiddenMetricsForVersion"], current),
            EnableExemplars = section.GetValue<bool>("EnableExemplars"),
            DisableLogStats = section.GetValue<bool>("DisableLogStats"),
            EnableMfuMetrics = section.GetValue<bool>("EnableMfuMetrics"),
            KvCacheMetricsSample = section.GetValue("KvCacheMetricsSample", 0.01),
            CustomBuckets = section["CustomHistogramBuckets"] is { Length: > 0 } json ? CustomHistogramBuckets.Parse(json) : new Dictionary<Buckets, double[]>(),
        };
        if (policy.KvCacheMetricsSample is <= 0 or > 1)
        {
            throw new InvalidOperationException($"--kv-cache-metrics-sample must be in (0, 1]; got {policy.KvCacheMetricsSample}.");
        }
        if (section.GetValue<bool>("KvCacheMetrics"))
        {
            policy.Enable(MetricCondition.KvCacheMetrics);
        }
        if (Environment.GetEnvironmentVariable("VLLM_COMPUTE_NANS_IN_LOGITS") is "1" or "true" or "True")
        {
            policy.Enable(MetricCondition.NansInLogits);
        }
        return policy;
    }

    public void Enable(MetricCondition condition) => _enabled.Add(condition);

    /// <summary>Whether a family is registered in this process.</summary>
    public bool IsRegistered(MetricFamily family) =>
        _enabled.Contains(family.Condition)
        && !(DisableLogStats && family.Group is not (MetricGroup.Gateway or MetricGroup.WorkerApi))
        && Stability(family) is MetricStability.Stable or MetricStability.Deprecated or MetricStability.Shown;

    /// <summary>vLLM's policy: deprecated in X.Y, hidden in X.Y+1 unless shown with X.Y, gone from X.Y+2.</summary>
    public MetricStability Stability(MetricFamily family) => family.Deprecated switch
    {
        null => MetricStability.Stable,
        { } d when Version >= d.RemovedIn => MetricStability.Removed,
        { } d when Version >= d.HiddenFrom => ShowHiddenMetricsForVersion == d.Since ? MetricStability.Shown : MetricStability.Hidden,
        _ => MetricStability.Deprecated,
    };

    /// <summary>Only the previous minor version is accepted, as vLLM accepts it; anything else stops start-up.</summary>
    private static Version? ParseShowHidden(string? value, Version current)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        var previous = current.Minor > 0 ? new Version(current.Major, current.Minor - 1) : null;
        var accepted = previous is null ? "none (this is the first minor version of the major)" : previous.ToString();
        if (!Version.TryParse(value.Count(c => c == '.') == 0 ? value + ".0" : value, out var asked) || asked.Build > 0 || asked.Revision > 0)
        {
            throw new InvalidOperationException($"--show-hidden-metrics-for-version={value} is not a version; this is version {current}, the accepted value is {accepted}.");
        }
        asked = new Version(asked.Major, asked.Minor);
        if (asked != previous)
        {
            throw new InvalidOperationException(
                $"--show-hidden-metrics-for-version={value} is not accepted: this is version {current}, and only the previous minor version, {accepted}, " +
                "can show metrics hidden since; metrics deprecated earlier are removed.");
        }
        return asked;
    }

    private static Version ReadVersion()
    {
        var informational = typeof(MetricsPolicy).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        var parsed = Version.Parse(informational.Split('-', '+')[0]);
        return new Version(parsed.Major, parsed.Minor);
    }

    /// <summary>
    /// Histogram series that must be scraped at zero before their first observation (OpenTelemetry creates a
    /// series only on its first measurement; vLLM's exist from start-up).
    /// </summary>
    public void AddEagerHistogramSeries(MetricFamily family, IReadOnlyDictionary<string, string> labels)
    {
        lock (_lock)
        {
            _pendingEagerHistograms = [.. _pendingEagerHistograms, new EagerHistogramSeries(family, labels, BoundsOf(family))];
        }
    }

    /// <summary>The eager series no full page has rendered yet.</summary>
    public IReadOnlyList<EagerHistogramSeries> PendingEagerHistograms => Volatile.Read(ref _pendingEagerHistograms);

    /// <summary>
    /// The eager series a full page lacks. A series the page has is never looked for again: OpenTelemetry keeps a series
    /// once it exists (cumulative), so once every histogram has been observed a scrape looks for nothing.
    /// </summary>
    public IReadOnlyList<EagerHistogramSeries> EagerHistogramsMissingFrom(ReadOnlySpan<byte> fullPage)
    {
        var pending = PendingEagerHistograms;
        if (pending.Count == 0)
        {
            return pending;
        }
        var missing = new List<EagerHistogramSeries>(pending.Count);
        foreach (var series in pending)
        {
            if (fullPage.IndexOf(series.CountSample) < 0)
            {
                missing.Add(series);
            }
        }
        if (missing.Count < pending.Count)
        {
            lock (_lock)
            {
                // Only what this page rendered leaves; series added meanwhile stay.
                _pendingEagerHistograms = _pendingEagerHistograms.Where(s => missing.Contains(s) || !pending.Contains(s)).ToArray();
            }
        }
        return missing;
    }
}

public enum MetricStability
{
    Stable,
    /// <summary>Deprecated, still shown (the version it was deprecated in).</summary>
    Deprecated,
    /// <summary>Deprecated and hidden in this version.</summary>
    Hidden,
    /// <summary>Hidden in this version, but shown by --show-hidden-metrics-for-version.</summary>
    Shown,
    /// <summary>Past its removal version: never served (and due for deletion from the catalog).</summary>
    Removed,
}

public sealed record EagerHistogramSeries(MetricFamily Family, IReadOnlyDictionary<string, string> Labels, double[] Bounds)
{
    /// <summary>The start of its _count line, in bytes: how a rendered page is searched for it.</summary>
    public byte[] CountSample { get; } = System.Text.Encoding.UTF8.GetBytes(Exposition.CountSample(Family, Labels));

    /// <summary>The start of its family's # TYPE line, in bytes: how a rendered page is searched for the family.</summary>
    public byte[] TypeLine { get; } = System.Text.Encoding.UTF8.GetBytes(Exposition.TypeLine(Family));
}
