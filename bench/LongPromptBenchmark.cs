namespace Bench;

/// <summary>
/// Head-of-line blocking by a long prompt: N streams decode on the server; once they run, one long prompt arrives.
/// Prints the streams' largest inter-token gap while the prompt was prefilled, and the prompt's own time to first
/// token. Run it against a worker with chunked prefill and one without to see what chunking buys.
/// </summary>
internal static class LongPromptBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var streams = args.Int("streams", 4);
        using var http = StreamingClient.CreateHttpClient();
        var client = new StreamingClient(http, args.String("base-url"), args.String("model"), "completions");
        var longPrompt = Prompts.Generate(1, args.Int("long-words", 670), args.Int("seed", 1))[0];
        var streamPrompts = Prompts.Generate(streams, 24, args.Int("seed", 1) + 1);

        await client.SendAsync(Prompts.Generate(1, 24, 0)[0], 8, CancellationToken.None); // warm-up
        var running = streamPrompts.Select(p => client.SendAsync(p, args.Int("output-len", 400), CancellationToken.None)).ToArray();
        if (streams > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(args.Double("delay-s") ?? 1.5));
        }
        var prompt = await client.SendAsync(longPrompt, 1, CancellationToken.None);
        var results = await Task.WhenAll(running);
        if (!prompt.Success || results.Any(r => !r.Success))
        {
            Console.Error.WriteLine($"a request failed: {prompt.Error ?? results.First(r => !r.Success).Error}");
            return 1;
        }
        Console.WriteLine($"long prompt: {prompt.PromptTokens} tokens, time to first token {prompt.TtftMs:F0} ms");
        if (streams > 0)
        {
            var largestGap = results.Max(r => r.ItlMs.Count == 0 ? 0 : r.ItlMs.Max());
            var medianGap = Distribution.Of(results.SelectMany(r => r.ItlMs).ToArray()).Median;
            Console.WriteLine($"{streams} streams: median inter-token gap {medianGap:F1} ms, largest {largestGap:F0} ms");
        }
        return 0;
    }
}
