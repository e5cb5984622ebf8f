using System.Diagnostics;

namespace Bench;

/// <summary>
/// Polls a /metrics URL at a fixed rate, as an inference router does, and times each full response; with
/// <paramref name="openMetrics"/> it asks for OpenMetrics as Prometheus does, so exemplars are rendered too.
/// </summary>
internal sealed class ScrapePoller(HttpClient http, string url, double ratePerSecond, bool openMetrics)
{
    private readonly List<double> _latenciesMs = [];

    public int Failures { get; private set; }

    public async Task RunAsync(CancellationToken stop)
    {
        var period = TimeSpan.FromSeconds(1 / ratePerSecond);
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, url);
                    if (openMetrics)
                    {
                        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
                    }
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, stop);
                    if (!response.IsSuccessStatusCode)
                    {
                        Failures++;
                        continue;
                    }
                    _latenciesMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (HttpRequestException)
                {
                    Failures++;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public Distribution Latency => Distribution.Of(_latenciesMs);

    public int Count => _latenciesMs.Count;
}
