using System.Globalization;
using System.Text.Json;
using Worker.Hosting;

namespace Worker.Api;

/// <summary>
/// vLLM's in-band load report (ORCA): a request carrying endpoint-load-metrics-format: text|json gets an
/// endpoint-load-metrics response header with the engine's kv_cache_usage_perc and num_requests_waiting (and
/// num_requests_running), read as the response starts, so a router learns each worker's load from its answers.
/// </summary>
internal static class EndpointLoadMetrics
{
    public const string FormatHeader = "endpoint-load-metrics-format";
    public const string Header = "endpoint-load-metrics";

    public static IApplicationBuilder UseEndpointLoadMetrics(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var format = http.Request.Headers[FormatHeader].ToString().ToLowerInvariant();
        if (format is "text" or "json")
        {
            var host = http.RequestServices.GetRequiredService<EngineHost>();
            http.Response.OnStarting(() =>
            {
                if (host.Snapshot is { } snapshot)
                {
                    http.Response.Headers[Header] = Report(format, snapshot.KvCacheUsage, snapshot.Waiting, snapshot.Running);
                }
                return Task.CompletedTask;
            });
        }
        await next(http);
    });

    public static string Report(string format, double kvCacheUsage, int waiting, int running)
    {
        var metrics = new (string Name, double Value)[] { ("kv_cache_usage_perc", kvCacheUsage), ("num_requests_waiting", waiting), ("num_requests_running", running) };
        return format == "json"
            ? "JSON " + JsonSerializer.Serialize(new { named_metrics = metrics.ToDictionary(m => m.Name, m => m.Value) })
            : "TEXT " + string.Join(", ", metrics.Select(m => string.Create(CultureInfo.InvariantCulture, $"named_metrics.{m.Name}={m.Value}")));
    }
}
