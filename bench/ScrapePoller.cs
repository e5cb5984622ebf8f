using System.Diagnostics;

namespace Bench;

/// <summary>Polls a /metrics URL at a fixed rate, as an inference router does, and times each full response.</summary>
internal sealed class ScrapePoller(HttpClient http, string url, double ratePerSecond)
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
                    using var response = await http.GetAsync(url, HttpCompletionOption.ResponseContentRead, stop);
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
