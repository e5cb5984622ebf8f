using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Bench;

/// <summary>
/// A soak against one worker: for N minutes, C clients mix streamed and whole completions, streams they abort, bad
/// input, and a sleeper puts the engine to sleep and wakes it up. Prints the worker's RSS after warm-up and at the end
/// with its slope, what the engine still holds once idle, and whether vllm:request_success_total counted every
/// admitted sequence exactly once. The worker needs VLLM_SERVER_DEV_MODE=1 for the sleep endpoints.
/// </summary>
internal static class SoakBenchmark
{
    /// <summary>The start of the message of a request aborted by sleep after it was admitted (it counts as an abort).</summary>
    private const string AbortedBySleep = "The engine was put to sleep";

    private static readonly TimeSpan RetryAfterSleeping = TimeSpan.FromMilliseconds(200);

    private static readonly string[] BadBodies =
    [
        """{"prompt": "a\ud800b", "max_tokens": 4}""",
        """{"prompt": [[1], [2], [3]], "n": 128}""",
        """{"prompt": "hi", "stop": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q"]}""",
        """{"prompt": "hi", "max_tokens": "ten"}""",
        """{"prompt": "hi", "prompt": "again"}""",
        """{"messages": [{"role": "wizard", "content": "hi"}]}""",
        """{"prompt": "hi", "temperature": 1e-310, "max_tokens": 100000}""",
        """{"prompt": """,
    ];

    public static async Task<int> RunAsync(BenchArgs args)
    {
        var baseUrl = args.String("base-url").TrimEnd('/');
        var model = args.String("model");
        var pid = args.Int("pid", 0);
        var duration = TimeSpan.FromMinutes(args.Double("minutes") ?? 10);
        var warmUp = TimeSpan.FromSeconds(args.Double("warmup-seconds") ?? 60);
        var concurrency = args.Int("concurrency", 8);
        var sleepEvery = TimeSpan.FromSeconds(args.Double("sleep-every") ?? 30);
        var outputLength = args.Int("output-len", 64);

        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(2) };
        var before = await CountedSequencesAsync(http);
        var tally = new Tally();
        var rss = new List<(double Seconds, long Bytes)>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);

        var clients = Enumerable.Range(0, concurrency).Select(i => ClientAsync(http, model, outputLength, new Random(i), tally, stop.Token)).ToList();
        clients.Add(SleeperAsync(http, sleepEvery, tally, stop.Token));
        clients.Add(SampleRssAsync(pid, rss, clock, stop.Token));
        await Task.WhenAll(clients);

        var idle = await WaitForIdleAsync(http);
        var counted = await CountedSequencesAsync(http) - before;
        var unhandled = await ScrapeAsync(http, "vellum_worker_unhandled_errors_total");
        Report(tally, rss, warmUp, idle, counted, unhandled, duration, concurrency);
        var settled = rss.Where(s => s.Seconds >= warmUp.TotalSeconds).ToArray();
        var growth = settled.Length > 1 ? (double)(settled[^1].Bytes - settled[0].Bytes) / settled[0].Bytes : 0;
        var leaks = idle.GetProperty("usedBlocks").GetInt32() + idle.GetProperty("activeRequests").GetInt32()
            + idle.GetProperty("slotsInUse").GetInt32() - idle.GetProperty("prefixPoolEntries").GetInt32();
        return growth <= 0.05 && leaks == 0 && counted == tally.Admitted && tally.ServerErrors == 0 && unhandled == 0 ? 0 : 1;
    }

    private sealed class Tally
    {
        public long Requests, Completed, ClientAborts, BadInput, RefusedAsleep, AbortedAsleep, ServerErrors, Sleeps, Admitted;
    }

    private static async Task ClientAsync(HttpClient http, string model, int outputLength, Random random, Tally tally, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var roll = random.Next(100);
            try
            {
                if (roll < 20)
                {
                    await BadInputAsync(http, random, tally);
                }
                else if (roll < 40)
                {
                    await WholeAsync(http, model, outputLength, random, tally);
                }
                else
                {
                    await StreamAsync(http, model, outputLength, abortEarly: roll < 55, random, tally);
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref tally.ServerErrors);
            }
            Interlocked.Increment(ref tally.Requests);
        }
    }

    private static async Task BadInputAsync(HttpClient http, Random random, Tally tally)
    {
        var body = BadBodies[random.Next(BadBodies.Length)];
        var path = body.Contains("messages", StringComparison.Ordinal) ? "/v1/chat/completions" : "/v1/completions";
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        await ClassifyRefusalAsync(response, sequences: 0, tally, expectClientError: true);
        Interlocked.Increment(ref tally.BadInput);
    }

    private static async Task WholeAsync(HttpClient http, string model, int outputLength, Random random, Tally tally)
    {
        var n = 1 + random.Next(3);
        var body = JsonSerializer.Serialize(new { model, prompt = Prompt(random), max_tokens = outputLength, n, temperature = 0.7, stop = random.Next(2) == 0 ? new[] { " the" } : null });
        using var response = await http.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        if (response.IsSuccessStatusCode)
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Interlocked.Add(ref tally.Admitted, json.RootElement.GetProperty("choices").GetArrayLength());
            Interlocked.Increment(ref tally.Completed);
            return;
        }
        await ClassifyRefusalAsync(response, n, tally, expectClientError: false);
    }

    private static async Task StreamAsync(HttpClient http, string model, int outputLength, bool abortEarly, Random random, Tally tally)
    {
        var body = JsonSerializer.Serialize(new
        {
            model,
            messages = new[] { new { role = "user", content = Prompt(random) } },
            max_tokens = outputLength,
            stream = true,
            ignore_eos = true,
        });
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            await ClassifyRefusalAsync(response, 1, tally, expectClientError: false);
            return;
        }
        Interlocked.Increment(ref tally.Admitted); // a stream that started was admitted, however it ends
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        var chunks = 0;
        while (await reader.ReadLineAsync(cancel.Token) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal) && ++chunks == 3 && abortEarly)
            {
                Interlocked.Increment(ref tally.ClientAborts);
                return; // disposing the response closes the connection mid-stream
            }
            if (line.Contains("\"error\"", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref tally.AbortedAsleep);
            }
        }
        Interlocked.Increment(ref tally.Completed);
    }

    /// <summary>
    /// A 503 from sleep is either a refusal at the door (nothing admitted) or a request aborted by sleep after admission
    /// (its sequences count as aborts); anything 5xx else is a server error.
    /// </summary>
    private static async Task ClassifyRefusalAsync(HttpResponseMessage response, int sequences, Tally tally, bool expectClientError)
    {
        var text = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        if (status == (int)HttpStatusCode.ServiceUnavailable && text.Contains("engine_sleeping", StringComparison.Ordinal))
        {
            if (text.Contains(AbortedBySleep, StringComparison.Ordinal))
            {
                Interlocked.Add(ref tally.Admitted, sequences);
                Interlocked.Increment(ref tally.AbortedAsleep);
            }
            else
            {
                Interlocked.Increment(ref tally.RefusedAsleep);
            }
            await Task.Delay(RetryAfterSleeping); // as a client that honours Retry-After would, rather than spin
            return;
        }
        if (status >= 500 || (expectClientError && status is < 400 or >= 500))
        {
            Interlocked.Increment(ref tally.ServerErrors);
            Console.Error.WriteLine($"unexpected {status}: {text}");
        }
    }

    private static async Task SleeperAsync(HttpClient http, TimeSpan every, Tally tally, CancellationToken stop)
    {
        for (var level = 1; ; level = 3 - level)
        {
            try
            {
                await Task.Delay(every, stop);
                (await http.PostAsync($"/sleep?level={level}", null, CancellationToken.None)).EnsureSuccessStatusCode();
                Interlocked.Increment(ref tally.Sleeps);
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            finally
            {
                (await http.PostAsync("/wake_up", null, CancellationToken.None)).EnsureSuccessStatusCode();
            }
        }
    }

    private static async Task SampleRssAsync(int pid, List<(double, long)> samples, Stopwatch clock, CancellationToken stop)
    {
        while (pid > 0 && !stop.IsCancellationRequested)
        {
            var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            samples.Add((clock.Elapsed.TotalSeconds, long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024));
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(5), stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static async Task<JsonElement> WaitForIdleAsync(HttpClient http)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var response = await http.GetAsync("/engine/stats");
            var stats = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (response.IsSuccessStatusCode && stats.GetProperty("activeRequests").GetInt32() == 0 || attempt == 100)
            {
                return stats;
            }
            await Task.Delay(100);
        }
    }

    private static async Task<long> CountedSequencesAsync(HttpClient http) => (long)await ScrapeAsync(http, "vllm:request_success_total");

    /// <summary>The sum of a family's samples in the worker's text exposition.</summary>
    private static async Task<double> ScrapeAsync(HttpClient http, string family) =>
        (await http.GetStringAsync("/metrics"))
            .Split('\n')
            .Where(line => line.StartsWith(family + "{", StringComparison.Ordinal) || line.StartsWith(family + " ", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static string Prompt(Random random) => $"Chapter {random.Next(1000)}: the keeper of the light {random.Next(50)} wrote";

    private static void Report(Tally tally, List<(double Seconds, long Bytes)> rss, TimeSpan warmUp, JsonElement idle, long counted, double unhandled,
        TimeSpan duration, int concurrency)
    {
        static double Mb(long bytes) => bytes / 1048576.0;
        Console.WriteLine($"soak: {duration.TotalMinutes:F1} min at concurrency {concurrency}: {tally.Requests} requests ({tally.Completed} completed, {tally.ClientAborts} aborted by the client, " +
            $"{tally.BadInput} bad input, {tally.RefusedAsleep} refused while asleep, {tally.AbortedAsleep} aborted by sleep), {tally.Sleeps} sleep/wake cycles, {tally.ServerErrors} server errors");
        var settled = rss.Where(s => s.Seconds >= warmUp.TotalSeconds).ToArray();
        if (settled.Length > 1)
        {
            var meanT = settled.Average(s => s.Seconds);
            var meanB = settled.Average(s => (double)s.Bytes);
            var slope = settled.Sum(s => (s.Seconds - meanT) * (s.Bytes - meanB)) / settled.Sum(s => (s.Seconds - meanT) * (s.Seconds - meanT));
            Console.WriteLine($"rss: {Mb(rss[0].Bytes):F0} MB at start, {Mb(settled[0].Bytes):F0} MB after {warmUp.TotalSeconds:F0} s warm-up, {Mb(settled[^1].Bytes):F0} MB at the end " +
                $"({100.0 * (settled[^1].Bytes - settled[0].Bytes) / settled[0].Bytes:+0.0;-0.0} %), slope {slope * 60 / 1048576:+0.00;-0.00} MB/min, max {Mb(rss.Max(s => s.Bytes)):F0} MB");
        }
        Console.WriteLine($"idle engine: {idle.GetProperty("usedBlocks")} blocks in use, {idle.GetProperty("activeRequests")} active requests, " +
            $"{idle.GetProperty("slotsInUse")} KV slots in use for {idle.GetProperty("prefixPoolEntries")} cached prefixes");
        Console.WriteLine($"counter balance: {tally.Admitted} sequences admitted, vllm:request_success_total counted {counted} ({(counted == tally.Admitted ? "exact" : $"off by {counted - tally.Admitted}")}); " +
            $"vellum_worker_unhandled_errors_total {unhandled}");
    }
}
