using System.Globalization;
using System.Text;
using MetricsContract;

namespace ServiceDefaults.Metrics;

/// <summary>The catalog as the README's metrics table (kept in step by a test).</summary>
public static class CatalogMarkdown
{
    public static string Render()
    {
        var table = new StringBuilder();
        table.Append("| Metric (as scraped) | Type | Labels | Buckets | When | Meaning |\n");
        table.Append("|---|---|---|---|---|---|\n");
        foreach (var family in MetricCatalog.Families)
        {
            var labels = family.Name == MetricCatalog.CacheConfigInfo.Name
                ? "engine + every CacheConfig attribute"
                : string.Join(", ", family.Labels.Select(label => label switch
                {
                    _ when family.EnumeratedLabels.TryGetValue(label, out var values) => $"{label} ∈ {{{string.Join(", ", values)}}}",
                    "position" => "position ∈ {0 … K-1}",
                    _ => label,
                }));
            table.Append(CultureInfo.InvariantCulture, $"| `{family.ExposedName}` | {family.Kind.ToString().ToLowerInvariant()} | {labels} | {Buckets(family)} | {When(family)} | {family.Description} |\n");
        }
        return table.ToString();
    }

    private static string Buckets(MetricFamily family) => family.Buckets switch
    {
        null => "",
        var b when b == MetricsContract.Buckets.OneTwoFive => "1-2-5 up to max_model_len",
        var b => string.Join(", ", b.Bounds(0).Select(v => v.ToString(CultureInfo.InvariantCulture))),
    };

    private static string When(MetricFamily family) => family.Condition switch
    {
        MetricCondition.KvCacheMetrics => "`--kv-cache-metrics`",
        MetricCondition.NansInLogits => "`VLLM_COMPUTE_NANS_IN_LOGITS=1`",
        MetricCondition.SpeculativeDecoding => "`--speculative-config`",
        MetricCondition.KvConnector => "`--kv-transfer-config`",
        MetricCondition.KvConsumer => "`--kv-transfer-config` as `kv_consumer` or `kv_both`",
        MetricCondition.Lora => "`--enable-lora`",
        _ when family.Group == MetricGroup.Mfu => "always; moves with `--enable-mfu-metrics`",
        _ when family.Group == MetricGroup.Gateway => "gateway",
        _ when family.Group == MetricGroup.WorkerApi => "always, also with `--disable-log-stats`",
        _ => "always",
    };
}
