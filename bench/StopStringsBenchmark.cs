using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bench;

/// <summary>
/// Head-of-line blocking by stop strings: an unrelated short request timed while one heavy request of n sequences
/// decodes, with or without many stop strings (bench/stop-strings.sh alternates the two through bench/compare.sh).
/// Samples count only while the worker's /engine/stats shows the heavy request's n sequences running, before and after
/// each sample: time spent parsing the heavy request or after it finished is not "beside" it. Stop strings are the
/// output processor's work, per request; they must not slow anyone else. The worker must allow that many stop strings (--max-stop-sequences).
/// </summary>
internal static class StopStringsBenchmark
{
    /// <summary>
    /// One measurement: the unrelated request's median latency beside the heavy request (with --stop-strings N of
    /// them; 0: none), or alone with --n 0; printed first on the line, as bench/compare.sh reads it.
    /// </summary>
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var baseUrl = args.String("base-url").TrimEnd('/');
        var model = args.String("model");
        var stopCount = args.Int("stop-strings", 100_000);
        var n = args.Int("n", 16);
        var samples = args.Int("samples", 15);
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(10) };

        var random = new Random(1);
        var stops = stopCount == 0 ? null
            : Enumerable.Range(0, stopCount).Select(_ => new string(Enumerable.Range(0, 8).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray())).ToArray();
        await TimeUnrelatedAsync(http, model, 3); // warm-up
        if (n == 0)
        {
            var alone = await TimeUnrelatedAsync(http, model, samples);
            Console.WriteLine($"{Distribution.Of(alone).Median:F1} ms median alone, p90 {Distribution.Of(alone).P90:F1} ms");
            return 0;
        }
        var (beside, heavySeconds) = await BesideAsync(http, model, n, stops, samples);
        Console.WriteLine($"{Distribution.Of(beside).Median:F1} ms median over {beside.Count} samples beside n={n} with {stopCount} stop strings " +
                          $"(p90 {Distribution.Of(beside).P90:F1} ms; the heavy request took {heavySeconds:F1} s)");
        return 0;
    }

    private static async Task<(List<double> Latencies, double HeavySeconds)> BesideAsync(HttpClient http, string model, int n, string[]? stops, int samples)
    {
        var running = await RunningAsync(http);
        var heavyClock = Stopwatch.StartNew();
        var heavy = http.PostAsJsonAsync("/v1/completions", new { model, prompt = "Once upon a time", max_tokens = 400, n, ignore_eos = true, stop = stops });
        while (await RunningAsync(http) < running + n)
        {
            if (heavy.IsCompleted)
            {
                throw new InvalidOperationException("the heavy request ended before all its sequences were seen running");
            }
            await Task.Delay(5);
        }
        var latencies = new List<double>();
        while (latencies.Count < samples)
        {
            var started = Stopwatch.GetTimestamp();
            await SendUnrelatedAsync(http, model);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (await RunningAsync(http) < running + n)
            {
                break; // the heavy request is ending: this sample was not wholly beside it
            }
            latencies.Add(elapsed);
        }
        using var heavyResponse = await heavy;
        heavyResponse.EnsureSuccessStatusCode();
        if (latencies.Count < samples / 2)
        {
            throw new InvalidOperationException($"only {latencies.Count} of {samples} samples fell while the heavy request decoded: make it longer");
        }
        return (latencies, heavyClock.Elapsed.TotalSeconds);
    }

    private static async Task<int> RunningAsync(HttpClient http) =>
        (await http.GetFromJsonAsync<JsonElement>("/engine/stats")).GetProperty("running").GetInt32();

    private static async Task<List<double>> TimeUnrelatedAsync(HttpClient http, string model, int count)
    {
        var times = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await SendUnrelatedAsync(http, model);
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        return times;
    }

    private static async Task SendUnrelatedAsync(HttpClient http, string model)
    {
        using var response = await http.PostAsJsonAsync("/v1/completions", new { model, prompt = "The ship left the harbour", max_tokens = 8, ignore_eos = true });
        response.EnsureSuccessStatusCode();
    }
}
