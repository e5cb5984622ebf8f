using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;

namespace ServiceDefaults.Metrics;

public static class ScrapeEndpoint
{
    public const string Path = "/metrics";

    /// <summary>
    /// Scope and target-info labels off, so series carry exactly vLLM's labels; no response cache, because routers poll
    /// every 50 ms and need the current gauges (concurrent scrapes still share one collection: the exporter's own).
    /// </summary>
    public static void ConfigureExporter(PrometheusAspNetCoreOptions prometheus)
    {
        prometheus.ScopeInfoEnabled = false;
        prometheus.TargetInfoEnabled = false;
        prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
    }

    /// <summary>The families a scrape asks for with name[]; null when it asks for the whole page. Read once a request (the router view's test and the filter both ask).</summary>
    public static IReadOnlySet<string>? AskedNames(HttpContext http)
    {
        if (http.Items.TryGetValue(AskedNamesKey, out var known))
        {
            return (IReadOnlySet<string>?)known;
        }
        var names = http.Request.Query["name[]"] is { Count: > 0 } asked ? asked.Where(n => n is not null).Select(n => n!).ToHashSet(StringComparer.Ordinal) : null;
        http.Items[AskedNamesKey] = names;
        return names;
    }

    private const string AskedNamesKey = "vellum.metrics.asked_names";

    /// <summary>
    /// /metrics through OpenTelemetry's Prometheus exporter, which negotiates the format from Accept (OpenMetrics for
    /// Prometheus and anyone asking; the classic text format otherwise). A name[] poll of load signals only is answered
    /// by the <see cref="RouterView"/>'s exporter, collecting those alone; any other by the full one. Around both: name[]
    /// filtering, and the full page passed through as the exporter wrote it, bar the eager zero histogram series it
    /// lacks until their first observation and empty exemplars.
    /// </summary>
    public static WebApplication MapMetricsEndpoint(this WebApplication app)
    {
        var policy = app.Services.GetRequiredService<MetricsPolicy>();
        app.UseWhen(http => http.Request.Path == Path, branch => branch.Use(async (http, next) =>
        {
            // Scrapes are not requests to measure (vLLM's HTTP metrics exclude /metrics too), and recording them costs a poll.
            if (http.Features.Get<IHttpMetricsTagsFeature>() is { } metricsTags)
            {
                metricsTags.MetricsDisabled = true;
            }
            // The exporter would gzip for Prometheus; it must write plain text here, to be checked, and is compressed after.
            var gzip = http.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
            http.Request.Headers.AcceptEncoding = default;
            var original = http.Response.Body;
            using var buffer = new MemoryStream();
            http.Response.Body = buffer;
            try
            {
                await next(http);
            }
            finally
            {
                http.Response.Body = original;
            }

            var page = new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
            if (http.Response.StatusCode == StatusCodes.Status200OK)
            {
                var openMetrics = http.Response.ContentType?.StartsWith("application/openmetrics-text", StringComparison.Ordinal) == true;
                page = Finish(page, openMetrics, AskedNames(http), policy);
            }
            if (gzip)
            {
                http.Response.ContentLength = null;
                http.Response.Headers.ContentEncoding = "gzip";
                await using var compressed = new GZipStream(http.Response.Body, CompressionLevel.Fastest, leaveOpen: true);
                await compressed.WriteAsync(page, http.RequestAborted);
            }
            else
            {
                http.Response.ContentLength = page.Length;
                await http.Response.Body.WriteAsync(page, http.RequestAborted);
            }
        }));
        var routerView = app.Services.GetRequiredService<RouterView>();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(routerView.Provider, RouterView.Serves, path: null, configureBranchedPipeline: null, optionsName: null);
        app.MapPrometheusScrapingEndpoint(Path);
        return app;
    }

    /// <summary>
    /// The page as served: the exporter's bytes, filtered to the families asked for, less empty exemplars, in a pass over
    /// them. Eager zero series not yet observed (OpenTelemetry keeps a series once it exists) are appended as families
    /// of their own while their families are absent, as they are before any observation: a worker that never sees a
    /// structured-output request keeps those histograms at zero for good. Only a family that has some series but lacks
    /// an eager one has the page parsed and edited.
    /// </summary>
    private static ReadOnlyMemory<byte> Finish(ReadOnlyMemory<byte> page, bool openMetrics, IReadOnlySet<string>? names, MetricsPolicy policy)
    {
        var missing = names is null ? policy.EagerHistogramsMissingFrom(page.Span) : Exposition.AskedOf(policy.PendingEagerHistograms, names);
        var kept = names is null ? page : Exposition.Filter(page, names);
        ReadOnlyMemory<byte> served = missing.Count == 0 ? kept
            : missing.All(series => !Exposition.HasFamily(kept.Span, series)) ? Exposition.AppendZeroFamilies(kept, missing, openMetrics)
            : Encoding.UTF8.GetBytes(Exposition.Rewrite(Encoding.UTF8.GetString(page.Span), openMetrics, missing, names));
        return openMetrics ? Exposition.WithoutEmptyExemplars(served) : served;
    }
}
