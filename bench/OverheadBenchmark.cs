namespace Bench;

/// <summary>
/// One stream through a server against the bare generate loop on the same model folder, alternated round by
/// round so both see the same machine; prints both rates and their ratio.
/// </summary>
internal static class OverheadBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var outputLength = args.Int("output-len", 256);
        var rounds = args.Int("rounds", 3);
        var prompt = Prompts.Generate(1, args.Int("input-words", 32), args.Int("seed", 0))[0];
        using var bare = new GenerateBenchmark(args.String("model-dir"));
        using var http = StreamingClient.CreateHttpClient();
        var client = new StreamingClient(http, args.String("base-url"), args.String("model"), args.String("endpoint", "completions"));

        // Warm both paths once: first runs pay for allocation and JIT.
        bare.TokensPerSecond(prompt, 16);
        await client.SendAsync(prompt, 16, CancellationToken.None);

        var bareRates = new List<double>();
        var servedRates = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            bareRates.Add(bare.TokensPerSecond(prompt, outputLength));
            var served = await client.SendAsync(prompt, outputLength, CancellationToken.None);
            if (!served.Success)
            {
                Console.Error.WriteLine($"request failed: {served.Error}");
                return 1;
            }
            servedRates.Add(served.OutputTokens / (served.E2eMs / 1000));
            Console.WriteLine($"round {round + 1}: bare {bareRates[^1]:F1} tok/s, served {servedRates[^1]:F1} tok/s");
        }
        // Per-round ratios cancel slow phases of a shared machine that hit both sides of a round alike.
        var bareMedian = Distribution.Of(bareRates).Median;
        var servedMedian = Distribution.Of(servedRates).Median;
        var roundRatio = Distribution.Of(servedRates.Zip(bareRates, (served, bareRate) => served / bareRate).ToArray()).Median;
        Console.WriteLine($"single stream, {outputLength} tokens: bare loop {bareMedian:F1} tok/s, through the API {servedMedian:F1} tok/s, " +
                          $"ratio of medians {servedMedian / bareMedian:F3}, median of per-round ratios {roundRatio:F3}");
        return 0;
    }
}
