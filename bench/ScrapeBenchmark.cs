using System.Runtime.InteropServices;

namespace Bench;

/// <summary>
/// A scraper in a process of its own, polling one URL over one keep-alive connection until SIGTERM, then printing the
/// latency of its scrapes: what Prometheus or a router on another machine sees, without the load generator's own
/// queueing (a poller inside <c>serve</c> shares its thread pool and heap with the streams it drives).
/// </summary>
internal static class ScrapeBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        using var http = ScrapePoller.OneConnectionClient();
        var poller = new ScrapePoller(http, args.String("url"), args.Double("rate") ?? 20, args.String("format", "text") == "openmetrics");
        poller.WarmUp();
        using var stop = new CancellationTokenSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        var polling = poller.RunAsync(stop.Token);
        Console.Error.WriteLine("polling");   // what a script waits for before it starts the load
        await polling;
        Console.WriteLine($"scrapes: {poller.Count} ok, {poller.Failures} failed; latency p50 {poller.Latency.Median:F2} ms, p99 {poller.Latency.P99:F2} ms");
        return poller.Failures == 0 ? 0 : 1;
    }
}
