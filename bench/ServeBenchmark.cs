using System.Diagnostics;
using System.Text.Json;

namespace Bench;

/// <summary>
/// N prompts against an OpenAI-compatible server, streamed, at a fixed concurrency or a Poisson request rate;
/// prints vLLM's result table and writes the same figures as JSON.
/// </summary>
internal static class ServeBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var baseUrl = args.String("base-url");
        var model = args.String("model");
        var count = args.Int("num-prompts", 100);
        var concurrency = args.Int("max-concurrency", 0);
        var rate = args.Double("request-rate");
        var outputLength = args.Int("output-len", 128);
        var seed = args.Int("seed", 0);
        // --prompt-seed: other prompt texts with the same arrivals and lengths (what another run's prefix cache cannot serve).
        var prompts = Prompts.Generate(count, args.Int("input-words", 32), args.Int("prompt-seed", seed), args.String("dataset", "random"));

        using var http = StreamingClient.CreateHttpClient();
        var client = new StreamingClient(http, baseUrl, model, args.String("endpoint", "completions"), args.Double("temperature") ?? 0);

        // --scrape-url: poll /metrics while serving, as a router or Prometheus would, and time each scrape.
        using var stopScraping = new CancellationTokenSource();
        var poller = args.Optional("scrape-url") is { } scrapeUrl ? new ScrapePoller(http, scrapeUrl, args.Double("scrape-rate") ?? 20, args.String("scrape-format", "text") == "openmetrics") : null;
        poller?.WarmUp();
        var polling = poller?.RunAsync(stopScraping.Token) ?? Task.CompletedTask;
        // --long-fraction F --long-output-len N: a skewed workload, a fraction of the requests asking for much longer outputs.
        var skew = new Random(seed + 1);
        var longFraction = args.Double("long-fraction") ?? 0;
        var lengths = prompts.Select(_ => skew.NextDouble() < longFraction ? args.Int("long-output-len", outputLength * 10) : outputLength).ToArray();
        // --num-warmups N: N short requests on other prompts first, unmeasured, so that this client's JIT and connections
        // are warm when timing starts (the bare loop it is compared with warms up the same way).
        if (args.Int("num-warmups", 0) is var warmups and > 0)
        {
            var warmupPrompts = Prompts.Generate(warmups, args.Int("input-words", 32), -1 - args.Int("prompt-seed", seed));
            await MeasureAsync(client, warmupPrompts, [.. warmupPrompts.Select(_ => 32)], concurrency, rate: null, seed);
        }
        // --lora-modules a,b,…: each request names one of these adapters, chosen at random (seeded), as vLLM's bench serve does.
        var loras = args.Optional("lora-modules")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var pick = new Random(seed + 2);
        var models = loras is { Length: > 0 } ? prompts.Select(_ => loras[pick.Next(loras.Length)]).ToArray() : null;
        var summary = await MeasureAsync(client, prompts, lengths, concurrency, rate, seed, models);
        await stopScraping.CancelAsync();
        await polling;

        summary.Print(Console.Out, $"concurrency {(concurrency > 0 ? concurrency.ToString() : "unbounded")}, request rate {(rate?.ToString() ?? "inf")}");
        if (poller is not null)
        {
            Console.WriteLine($"scrapes: {poller.Count} ok, {poller.Failures} failed; latency p50 {poller.Latency.Median:F2} ms, p99 {poller.Latency.P99:F2} ms");
        }
        if (args.Optional("result-file") is { } file)
        {
            var json = summary.ToJson();
            if (poller is not null)
            {
                json["scrape_p50_ms"] = poller.Latency.Median;
                json["scrape_p99_ms"] = poller.Latency.P99;
            }
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        }
        return summary.Failed == 0 ? 0 : 1;
    }

    /// <param name="outputLengths">Each prompt's max_tokens.</param>
    /// <param name="models">Each prompt's model (LoRA adapters); the client's when null.</param>
    public static async Task<ServeSummary> MeasureAsync(StreamingClient client, string[] prompts, int[] outputLengths, int concurrency, double? rate, int seed,
        string[]? models = null)
    {
        using var gate = new SemaphoreSlim(concurrency > 0 ? concurrency : prompts.Length);
        var arrivals = new Random(seed);
        var clock = Stopwatch.StartNew();
        var tasks = new List<Task<RequestResult>>();
        for (var i = 0; i < prompts.Length; i++)
        {
            var (prompt, outputLength, model) = (prompts[i], outputLengths[i], models?[i]);
            if (rate is { } perSecond and > 0)
            {
                // Poisson arrivals: exponential gaps with mean 1/rate, as vLLM's bench with burstiness 1.
                await Task.Delay(TimeSpan.FromSeconds(-Math.Log(1 - arrivals.NextDouble()) / perSecond));
            }
            await gate.WaitAsync();
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    return await client.SendAsync(prompt, outputLength, CancellationToken.None, model);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }
        var results = await Task.WhenAll(tasks);
        return new ServeSummary(results, clock.Elapsed.TotalSeconds);
    }
}

internal sealed record ServeSummary(RequestResult[] Results, double DurationSeconds)
{
    private RequestResult[] Succeeded => Results.Where(r => r.Success).ToArray();

    public int Failed => Results.Length - Succeeded.Length;

    public double OutputThroughput => Succeeded.Sum(r => r.OutputTokens) / DurationSeconds;

    public double RequestThroughput => Succeeded.Length / DurationSeconds;

    public Distribution Ttft => Distribution.Of(Succeeded.Select(r => r.TtftMs).ToArray());

    public Distribution Tpot => Distribution.Of(Succeeded.Where(r => r.TpotMs is not null).Select(r => r.TpotMs!.Value).ToArray());

    public Distribution Itl => Distribution.Of(Succeeded.SelectMany(r => r.ItlMs).ToArray());

    public Distribution E2e => Distribution.Of(Succeeded.Select(r => r.E2eMs).ToArray());

    public void Print(TextWriter output, string title)
    {
        output.WriteLine($"============ Serving Benchmark Result ({title}) ============");
        output.WriteLine($"{"Successful requests:",-40}{Succeeded.Length,12}");
        output.WriteLine($"{"Failed requests:",-40}{Failed,12}");
        output.WriteLine($"{"Benchmark duration (s):",-40}{DurationSeconds,12:F2}");
        output.WriteLine($"{"Total input tokens:",-40}{Succeeded.Sum(r => r.PromptTokens),12}");
        output.WriteLine($"{"Total generated tokens:",-40}{Succeeded.Sum(r => r.OutputTokens),12}");
        output.WriteLine($"{"Request throughput (req/s):",-40}{RequestThroughput,12:F2}");
        output.WriteLine($"{"Output token throughput (tok/s):",-40}{OutputThroughput,12:F2}");
        output.WriteLine($"{"Total token throughput (tok/s):",-40}{(Succeeded.Sum(r => r.PromptTokens + r.OutputTokens) / DurationSeconds),12:F2}");
        foreach (var (name, distribution) in new[] { ("TTFT", Ttft), ("TPOT", Tpot), ("ITL", Itl), ("E2EL", E2e) })
        {
            output.WriteLine($"{"Mean " + name + " (ms):",-40}{distribution.Mean,12:F2}");
            output.WriteLine($"{"Median " + name + " (ms):",-40}{distribution.Median,12:F2}");
            output.WriteLine($"{"P90 " + name + " (ms):",-40}{distribution.P90,12:F2}");
            output.WriteLine($"{"P99 " + name + " (ms):",-40}{distribution.P99,12:F2}");
        }
        foreach (var error in Results.Where(r => !r.Success).Select(r => r.Error).Distinct().Take(5))
        {
            output.WriteLine($"error: {error}");
        }
        output.WriteLine(new string('=', 60));
    }

    public Dictionary<string, object> ToJson()
    {
        var json = new Dictionary<string, object>
        {
            ["duration"] = DurationSeconds,
            ["completed"] = Succeeded.Length,
            ["failed"] = Failed,
            ["total_input_tokens"] = Succeeded.Sum(r => r.PromptTokens),
            ["total_output_tokens"] = Succeeded.Sum(r => r.OutputTokens),
            ["request_throughput"] = RequestThroughput,
            ["output_throughput"] = OutputThroughput,
            ["total_token_throughput"] = Succeeded.Sum(r => r.PromptTokens + r.OutputTokens) / DurationSeconds,
            ["errors"] = Results.Where(r => !r.Success).Select(r => r.Error ?? "").ToArray(),
        };
        foreach (var (name, distribution) in new[] { ("ttft", Ttft), ("tpot", Tpot), ("itl", Itl), ("e2el", E2e) })
        {
            json[$"mean_{name}_ms"] = distribution.Mean;
            json[$"median_{name}_ms"] = distribution.Median;
            json[$"p90_{name}_ms"] = distribution.P90;
            json[$"p99_{name}_ms"] = distribution.P99;
        }
        return json;
    }
}
