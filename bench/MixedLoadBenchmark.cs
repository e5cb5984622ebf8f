namespace Bench;

/// <summary>
/// Long prompts arriving among running streams, the load P/D is for: S streams (short prompts, long outputs) run the
/// whole time; every --interval-s a long prompt arrives (--long-words, a few output tokens). Prints the long prompts'
/// time to first token and the streams' inter-token latency (median, p99, largest).
/// </summary>
internal static class MixedLoadBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        using var http = StreamingClient.CreateHttpClient();
        var client = new StreamingClient(http, args.String("base-url"), args.String("model"), "completions");
        var seed = args.Int("seed", 1);
        var longPrompts = Prompts.Generate(args.Int("long-prompts", 6), args.Int("long-words", 500), seed);
        var streamPrompts = Prompts.Generate(args.Int("streams", 4), 24, seed + 1000);
        var interval = TimeSpan.FromSeconds(args.Double("interval-s") ?? 2);

        await client.SendAsync(Prompts.Generate(1, 24, 0)[0], 8, CancellationToken.None); // warm-up
        var streams = streamPrompts.Select(p => client.SendAsync(p, args.Int("output-len", 300), CancellationToken.None)).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var arrivals = new List<Task<RequestResult>>();
        foreach (var prompt in longPrompts)
        {
            arrivals.Add(client.SendAsync(prompt, 8, CancellationToken.None));
            await Task.Delay(interval);
        }
        var longs = await Task.WhenAll(arrivals);
        var streamed = await Task.WhenAll(streams);
        if (longs.Concat(streamed).FirstOrDefault(r => !r.Success) is { } failed)
        {
            Console.Error.WriteLine($"a request failed: {failed.Error}");
            return 1;
        }
        var ttft = Distribution.Of(longs.Select(r => r.TtftMs).ToArray());
        var gaps = streamed.SelectMany(r => r.ItlMs).ToArray();
        var itl = Distribution.Of(gaps);
        // The streams' p99 ITL first on the line: the figure bench/compare.sh compares.
        Console.WriteLine($"{itl.P99:F1} ms p99 ITL; long prompts ({longs.Average(r => r.PromptTokens):F0} tokens): TTFT median {ttft.Median:F0} ms, p90 {ttft.P90:F0} ms; " +
            $"streams: ITL median {itl.Median:F1} ms, p99 {itl.P99:F1} ms, largest {gaps.DefaultIfEmpty(0).Max():F0} ms");
        return 0;
    }
}
