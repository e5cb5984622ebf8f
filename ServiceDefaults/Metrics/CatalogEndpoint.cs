using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MetricsContract;

namespace ServiceDefaults.Metrics;

/// <summary>
/// GET /metrics/catalog: the catalog as JSON, resolved for this process (its version, its buckets, what is
/// registered, hidden or deprecated), so routers and dashboards can check compatibility before they query.
/// </summary>
public static class CatalogEndpoint
{
    public const string Path = "/metrics/catalog";

    public static IEndpointRouteBuilder MapMetricsCatalog(this IEndpointRouteBuilder routes)
    {
        routes.MapGet(Path, (MetricsPolicy policy) => Results.Json(new
        {
            version = policy.Version.ToString(),
            show_hidden_metrics_for_version = policy.ShowHiddenMetricsForVersion?.ToString(),
            families = MetricCatalog.Families.Select(family => new
            {
                name = family.Name,
                exposed_name = family.ExposedName,
                type = family.Kind.ToString().ToLowerInvariant(),
                help = family.Description,
                labels = family.Labels,
                label_values = family.EnumeratedLabels,
                buckets = family.Buckets is null ? null : policy.BoundsOf(family),
                buckets_rule = family.Buckets == Buckets.OneTwoFive ? "build_1_2_5_buckets(max_model_len)" : null,
                group = family.Group.ToString().ToLowerInvariant(),
                condition = family.Condition.ToString(),
                registered = policy.IsRegistered(family),
                stability = policy.Stability(family).ToString().ToLowerInvariant(),
                deprecated_since = family.Deprecated?.Since.ToString(),
                hidden_from = family.Deprecated?.HiddenFrom.ToString(),
                removed_in = family.Deprecated?.RemovedIn.ToString(),
                successor = family.Deprecated?.Successor,
            }),
        })).WithName("MetricsCatalog").WithSummary("Every metric family: name, type, labels, buckets, stability, deprecation and successor.");
        return routes;
    }
}
