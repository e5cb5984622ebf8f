using System.Diagnostics;

namespace Bench;

/// <summary>
/// Polls a /metrics URL at a fixed rate, as an inference router does, and times each full response; with
/// <paramref name="openMetrics"/> it asks for OpenMetrics as Prometheus does, so exemplars are rendered too. It polls
/// from a thread of its own with blocking sends, as a scrape loop does: one wake-up per response, and none of its
/// time spent queued behind the continuations of the streams a load generator drives in the same process.
/// </summary>
internal sealed class ScrapePoller(HttpClient http, string url, double ratePerSecond, bool openMetrics)
{
    private readonly List<double> _latenciesMs = [];

    /// <summary>A client that holds one keep-alive connection, as a scraper does.</summary>
    public static HttpClient OneConnectionClient() =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });

    public int Failures { get; private set; }

    /// <summary>One scrape, not timed: the connection open and this client's code compiled before timing starts.</summary>
    public void WarmUp() => Scrape(CancellationToken.None);

    /// <summary>Polls on a dedicated thread until <paramref name="stop"/>.</summary>
    public Task RunAsync(CancellationToken stop) => Task.Factory.StartNew(() =>
    {
        var period = (long)(Stopwatch.Frequency / ratePerSecond);
        var next = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                next += period;
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (stop.WaitHandle.WaitOne(wait > TimeSpan.Zero ? wait : TimeSpan.Zero))
                {
                    return;
                }
                var started = Stopwatch.GetTimestamp();
                if (Scrape(stop))
                {
                    _latenciesMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                else
                {
                    Failures++;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }, stop, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private bool Scrape(CancellationToken stop)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (openMetrics)
        {
            request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        }
        try
        {
            using var response = http.Send(request, HttpCompletionOption.ResponseContentRead, stop);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public Distribution Latency => Distribution.Of(_latenciesMs);

    public int Count => _latenciesMs.Count;
}
