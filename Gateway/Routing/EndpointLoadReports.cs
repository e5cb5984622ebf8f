using System.Diagnostics;
using MetricsContract;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Routing;

/// <summary>
/// In-band load reports (<see cref="EndpointLoadReport"/>): every proxied request asks for the TEXT form, and each
/// answer's report refreshes that worker's load between polls.
/// </summary>
internal static class EndpointLoadReports
{
    public static ValueTask Ask(RequestTransformContext context)
    {
        context.ProxyRequest.Headers.TryAddWithoutValidation(EndpointLoadReport.FormatHeader, "text");
        return ValueTask.CompletedTask;
    }

    public static ValueTask Read(ResponseTransformContext context)
    {
        if (context.ProxyResponse?.Headers.TryGetValues(EndpointLoadReport.Header, out var values) == true
            && context.HttpContext.GetReverseProxyFeature().ProxiedDestination is { } destination
            && EndpointLoadReport.Parse(values.First()) is { } report)
        {
            context.HttpContext.RequestServices.GetRequiredService<WorkerLoads>().Report(destination.Model.Config.Address,
                new WorkerLoad(report.Waiting, report.Running, report.KvCacheUsage, Stopwatch.GetTimestamp(), UncachedTokensWaiting: report.UncachedTokensWaiting),
                destination.ConcurrentRequestCount);
        }
        return ValueTask.CompletedTask;
    }
}
