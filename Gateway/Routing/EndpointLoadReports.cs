using System.Diagnostics;
using System.Globalization;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Routing;

/// <summary>
/// In-band load reports (ORCA's endpoint-load-metrics, as vLLM emits it when asked with endpoint-load-metrics-format):
/// every proxied request asks for the TEXT form, and each answer's report refreshes that worker's load between polls.
/// </summary>
internal static class EndpointLoadReports
{
    public const string FormatHeader = "endpoint-load-metrics-format";
    public const string Header = "endpoint-load-metrics";

    public static ValueTask Ask(RequestTransformContext context)
    {
        context.ProxyRequest.Headers.TryAddWithoutValidation(FormatHeader, "text");
        return ValueTask.CompletedTask;
    }

    public static ValueTask Read(ResponseTransformContext context)
    {
        if (context.ProxyResponse?.Headers.TryGetValues(Header, out var values) == true
            && context.HttpContext.GetReverseProxyFeature().ProxiedDestination is { } destination
            && Parse(values.First()) is { } load)
        {
            context.HttpContext.RequestServices.GetRequiredService<WorkerLoads>().Report(destination.Model.Config.Address, load, destination.ConcurrentRequestCount);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>"TEXT named_metrics.kv_cache_usage_perc=0.3, named_metrics.num_requests_waiting=2, …"; null when it says nothing usable.</summary>
    public static WorkerLoad? Parse(string header)
    {
        if (!header.StartsWith("TEXT ", StringComparison.Ordinal))
        {
            return null;
        }
        var metrics = header[5..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2 && double.TryParse(pair[1], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .ToDictionary(pair => pair[0].Replace("named_metrics.", "", StringComparison.Ordinal), pair => double.Parse(pair[1], CultureInfo.InvariantCulture));
        return metrics.TryGetValue("num_requests_waiting", out var waiting) && metrics.TryGetValue("kv_cache_usage_perc", out var kv)
            ? new WorkerLoad(waiting, metrics.GetValueOrDefault("num_requests_running"), kv, Stopwatch.GetTimestamp())
            : null;
    }
}
