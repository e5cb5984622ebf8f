using System.Diagnostics;
using System.Net.Http.Json;

namespace Bench;

/// <summary>
/// Head-of-line blocking by stop strings: an unrelated short request timed alone, then while one request with many stop
/// strings and n sequences runs. Stop strings are the output processor's work, per request; they must not slow anyone
/// else. The worker must allow that many stop strings (--max-stop-sequences).
/// </summary>
internal static class StopStringsBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var baseUrl = args.String("base-url").TrimEnd('/');
        var model = args.String("model");
        var stopCount = args.Int("stop-strings", 100_000);
        var n = args.Int("n", 16);
        var samples = args.Int("samples", 15);
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(10) };

        var random = new Random(1);
        var stops = Enumerable.Range(0, stopCount).Select(_ => new string(Enumerable.Range(0, 8).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray())).ToArray();
        await TimeUnrelatedAsync(http, model, 5); // warm-up
        var alone = await TimeUnrelatedAsync(http, model, samples);
        // The same request without stop strings first: what n busy sequences cost anyway, so the difference is the strings'.
        var (besidePlain, plainSeconds) = await BesideAsync(http, model, n, stops: null, samples);
        var (besideStops, stopsSeconds) = await BesideAsync(http, model, n, stops, samples);

        Console.WriteLine($"unrelated request alone: median {alone.Median:F1} ms, p90 {alone.P90:F1} ms");
        Console.WriteLine($"beside one request of n={n} without stop strings: median {besidePlain.Median:F1} ms, p90 {besidePlain.P90:F1} ms (that request took {plainSeconds:F1} s)");
        Console.WriteLine($"beside the same request with {stopCount} stop strings: median {besideStops.Median:F1} ms, p90 {besideStops.P90:F1} ms (that request took {stopsSeconds:F1} s)");
        Console.WriteLine($"ratio with / without stop strings (medians): {besideStops.Median / besidePlain.Median:F2}");
        return 0;
    }

    private static async Task<(Distribution Latency, double HeavySeconds)> BesideAsync(HttpClient http, string model, int n, string[]? stops, int samples)
    {
        var heavyClock = Stopwatch.StartNew();
        var heavy = http.PostAsJsonAsync("/v1/completions", new { model, prompt = "Once upon a time", max_tokens = 400, n, ignore_eos = true, stop = stops });
        await Task.Delay(TimeSpan.FromSeconds(1));
        var beside = await TimeUnrelatedAsync(http, model, samples);
        using var heavyResponse = await heavy;
        heavyResponse.EnsureSuccessStatusCode();
        return (beside, heavyClock.Elapsed.TotalSeconds);
    }

    private static async Task<Distribution> TimeUnrelatedAsync(HttpClient http, string model, int count)
    {
        var times = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await http.PostAsJsonAsync("/v1/completions", new { model, prompt = "The ship left the harbour", max_tokens = 8, ignore_eos = true });
            response.EnsureSuccessStatusCode();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        return Distribution.Of(times);
    }
}
