using System.Globalization;
using System.Text.Json;

namespace MetricsContract;

/// <summary>
/// An in-band load report, ORCA's endpoint-load-metrics response header as vLLM writes it: a request carrying
/// endpoint-load-metrics-format: text|json gets "TEXT named_metrics.kv_cache_usage_perc=0.3, named_metrics.num_requests_waiting=2, …"
/// or "JSON {"named_metrics":{…}}". The worker writes it, the gateway's router reads it; one format for both. Beside
/// vLLM's three signals it carries the queue's depth in tokens (all, and those its prefills must compute), which vLLM lacks.
/// </summary>
public sealed record EndpointLoadReport(double KvCacheUsage, double Waiting, double Running, double TokensWaiting = 0, double UncachedTokensWaiting = 0)
{
    public const string FormatHeader = "endpoint-load-metrics-format";
    public const string Header = "endpoint-load-metrics";

    private const string KvCacheUsageName = "kv_cache_usage_perc";
    private const string WaitingName = "num_requests_waiting";
    private const string RunningName = "num_requests_running";
    private static readonly string TokensWaitingName = MetricCatalog.NumTokensWaiting.Name;
    private static readonly string UncachedTokensWaitingName = MetricCatalog.NumUncachedTokensWaiting.Name;

    /// <summary>The header's value in <paramref name="format"/> ("text" or "json").</summary>
    public string Format(string format)
    {
        var metrics = new (string Name, double Value)[]
        {
            (KvCacheUsageName, KvCacheUsage), (WaitingName, Waiting), (RunningName, Running),
            (TokensWaitingName, TokensWaiting), (UncachedTokensWaitingName, UncachedTokensWaiting),
        };
        return format == "json"
            ? "JSON " + JsonSerializer.Serialize(new { named_metrics = metrics.ToDictionary(m => m.Name, m => m.Value) })
            : "TEXT " + string.Join(", ", metrics.Select(m => string.Create(CultureInfo.InvariantCulture, $"named_metrics.{m.Name}={m.Value}")));
    }

    /// <summary>A TEXT report; null when it is not one or lacks the KV usage or the waiting count.</summary>
    public static EndpointLoadReport? Parse(string header)
    {
        if (!header.StartsWith("TEXT ", StringComparison.Ordinal))
        {
            return null;
        }
        var metrics = header[5..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2 && double.TryParse(pair[1], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .ToDictionary(pair => pair[0].Replace("named_metrics.", "", StringComparison.Ordinal), pair => double.Parse(pair[1], CultureInfo.InvariantCulture));
        return metrics.TryGetValue(WaitingName, out var waiting) && metrics.TryGetValue(KvCacheUsageName, out var kv)
            ? new EndpointLoadReport(kv, waiting, metrics.GetValueOrDefault(RunningName), metrics.GetValueOrDefault(TokensWaitingName),
                metrics.GetValueOrDefault(UncachedTokensWaitingName))
            : null;
    }
}
