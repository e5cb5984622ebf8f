using System.Diagnostics;
using MetricsContract;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace Gateway.Routing;

/// <summary>
/// Polls every worker's /metrics for the signals routers read (vllm:num_requests_waiting, vllm:num_requests_running,
/// vllm:kv_cache_usage_perc, vellum_num_uncached_tokens_waiting, and with LoRA vllm:lora_requests_info and vellum_lora_resident_info), filtered with
/// name[] so a poll is cheap, every PollInterval (50 ms), as the Gateway API Inference Extension's endpoint picker and AIBrix do.
/// </summary>
internal sealed partial class WorkerLoadPoller(
    IProxyStateLookup proxyState, WorkerLoads loads, IOptions<RoutingOptions> options, IHttpClientFactory clients, ILogger<WorkerLoadPoller> logger)
    : BackgroundService
{
    private static readonly string Query = "/metrics?" + string.Join('&', new[]
        {
            MetricCatalog.NumRequestsWaiting, MetricCatalog.NumRequestsRunning, MetricCatalog.KvCacheUsage, MetricCatalog.NumUncachedTokensWaiting,
            MetricCatalog.LoraRequestsInfo, MetricCatalog.LoraResidentInfo,
        }
        .Select(f => "name%5B%5D=" + Uri.EscapeDataString(f.Name)));

    private readonly HttpClient _client = clients.CreateClient(Proxy.GatewayHttpClients.LoadPolls);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval);
        do
        {
            // Only the clusters that route by load are read: a poll costs the worker a scrape.
            var destinations = proxyState.GetClusters().Where(c => c.Model.Config.LoadBalancingPolicy == LoadAwarePolicy.PolicyName)
                .SelectMany(c => c.Destinations.Values).ToArray();
            await Task.WhenAll(destinations.Select(d => PollAsync(d, stoppingToken)));
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task PollAsync(Yarp.ReverseProxy.Model.DestinationState destination, CancellationToken cancellationToken)
    {
        var address = destination.Model.Config.Address;
        try
        {
            var inFlight = destination.ConcurrentRequestCount;
            var text = await _client.GetStringAsync(new Uri(new Uri(address), Query), cancellationToken);
            var families = PrometheusText.Parse(text);
            loads.Report(address, new WorkerLoad(
                Sum(families, MetricCatalog.NumRequestsWaiting), Sum(families, MetricCatalog.NumRequestsRunning), Sum(families, MetricCatalog.KvCacheUsage),
                Stopwatch.GetTimestamp(), WorkerLoras.From(families), BaseModel(families), Sum(families, MetricCatalog.NumUncachedTokensWaiting)), inFlight);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or FormatException && !cancellationToken.IsCancellationRequested)
        {
            Log.PollFailed(logger, address, e.Message); // its reading goes stale; passive and active health deal with the worker itself
        }
    }

    /// <summary>The base model's served name, from the model_name label of its gauges.</summary>
    private static string? BaseModel(Dictionary<string, Family> families) =>
        families.TryGetValue(MetricCatalog.NumRequestsWaiting.ExposedName, out var waiting)
            ? waiting.Samples.Select(s => s.Labels.GetValueOrDefault(MetricCatalog.ModelName)).FirstOrDefault(n => n is not null)
            : null;

    private static double Sum(Dictionary<string, Family> families, MetricFamily family) =>
        families.TryGetValue(family.ExposedName, out var found) ? found.Samples.Sum(s => s.Value) : 0;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Could not read the load of {Address}: {Why}.")]
        public static partial void PollFailed(ILogger logger, string address, string why);
    }
}
