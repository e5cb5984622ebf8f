using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using MetricsContract;

namespace ServiceDefaults.Metrics;

public static class ScrapeEndpoint
{
    public const string Path = "/metrics";

    /// <summary>
    /// /metrics through OpenTelemetry's Prometheus exporter, which negotiates the format from Accept (OpenMetrics
    /// for Prometheus and anyone asking; the classic text format otherwise). Around it: name[] filtering, so a
    /// router polling two gauges every 50 ms gets two families, and the eager zero histogram series.
    /// </summary>
    public static WebApplication MapMetricsEndpoint(this WebApplication app)
    {
        var policy = app.Services.GetRequiredService<MetricsPolicy>();
        app.UseWhen(http => http.Request.Path == Path, branch => branch.Use(async (http, next) =>
        {
            // The exporter would gzip for Prometheus; it must write plain text here, to be edited, and is compressed after.
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

            var names = http.Request.Query["name[]"] is { Count: > 0 } asked ? asked.Where(n => n is not null).Select(n => n!).ToHashSet(StringComparer.Ordinal) : null;
            var rendered = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            if (http.Response.StatusCode == StatusCodes.Status200OK)
            {
                var openMetrics = http.Response.ContentType?.StartsWith("application/openmetrics-text", StringComparison.Ordinal) == true;
                rendered = Exposition.Rewrite(rendered, openMetrics, policy.EagerHistograms, names);
            }
            http.Response.ContentLength = null;
            if (gzip)
            {
                http.Response.Headers.ContentEncoding = "gzip";
                await using var compressed = new GZipStream(http.Response.Body, CompressionLevel.Fastest, leaveOpen: true);
                await compressed.WriteAsync(Encoding.UTF8.GetBytes(rendered), http.RequestAborted);
            }
            else
            {
                await http.Response.WriteAsync(rendered, http.RequestAborted);
            }
        }));
        app.MapPrometheusScrapingEndpoint(Path);
        return app;
    }
}
