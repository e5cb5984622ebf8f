using MetricsContract;
using Worker.Hosting;

namespace Worker.Api;

/// <summary>
/// vLLM's in-band load report (ORCA): a request carrying endpoint-load-metrics-format: text|json gets an
/// endpoint-load-metrics response header with the engine's kv_cache_usage_perc and num_requests_waiting (and
/// num_requests_running, and the waiting queue's depth in tokens), read as the response starts, so a router learns
/// each worker's load from its answers.
/// </summary>
internal static class EndpointLoadMetrics
{
    public static IApplicationBuilder UseEndpointLoadMetrics(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var format = http.Request.Headers[EndpointLoadReport.FormatHeader].ToString().ToLowerInvariant();
        if (format is "text" or "json")
        {
            var host = http.RequestServices.GetRequiredService<EngineHost>();
            http.Response.OnStarting(() =>
            {
                if (host.Snapshot is { } snapshot)
                {
                    http.Response.Headers[EndpointLoadReport.Header] = new EndpointLoadReport(snapshot.KvCacheUsage, snapshot.Waiting, snapshot.Running,
                        snapshot.WaitingTokens, snapshot.WaitingUncachedTokens).Format(format);
                }
                return Task.CompletedTask;
            });
        }
        await next(http);
    });
}
