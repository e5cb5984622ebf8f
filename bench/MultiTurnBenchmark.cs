using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Bench;

/// <summary>
/// A multi-turn chat workload, the kind prefix affinity is for: --chats conversations in parallel, each --turns turns
/// long, every turn the whole conversation so far plus a new question. Prints the turns' median and p90 latency, and
/// the workload's prefix-hit ceiling, computed from its token ids (a worker's POST /tokenize, --tokenize-url): a turn
/// can at best hit, in whole blocks, what it shares with the previous turn's prompt (the lower bound) plus that
/// turn's answer (at most --output-len more tokens: the upper bound); a chat's first turn cannot hit. The script reads
/// the workers' own vllm:prefix_cache_hits and _queries around it for the hit rate reached.
/// </summary>
internal static class MultiTurnBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        using var http = StreamingClient.CreateHttpClient();
        var url = args.String("base-url").TrimEnd('/') + "/chat/completions";
        var model = args.String("model");
        var turns = args.Int("turns", 4);
        var seed = args.Int("seed", 1);
        var tokenizeUrl = args.String("tokenize-url");
        var blockSize = args.Int("block-size", 16);
        var outputLength = args.Int("output-len", 16);
        var latencies = new List<double>();
        var failures = 0;
        long promptTokens = 0, ceilingLow = 0, ceilingHigh = 0;
        await Task.WhenAll(Enumerable.Range(0, args.Int("chats", 6)).Select(async chat =>
        {
            var messages = new JsonArray();
            int[]? previous = null;
            var questions = Prompts.Generate(turns, args.Int("question-words", 40), seed * 1000 + chat);
            foreach (var question in questions)
            {
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = question });
                var tokens = await TokenizeAsync(http, tokenizeUrl, messages);
                var shared = previous is null ? 0 : tokens.Zip(previous).TakeWhile(pair => pair.First == pair.Second).Count();
                lock (latencies)
                {
                    promptTokens += tokens.Length;
                    ceilingLow += shared / blockSize * blockSize;
                    ceilingHigh += previous is null ? 0 : Math.Min(tokens.Length, shared + outputLength) / blockSize * blockSize;
                }
                previous = tokens;
                var started = Stopwatch.GetTimestamp();
                using var response = await http.PostAsJsonAsync(url, new JsonObject
                {
                    ["model"] = model, ["messages"] = messages.DeepClone(), ["max_tokens"] = args.Int("output-len", 16), ["temperature"] = 0,
                });
                var answer = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
                lock (latencies)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    failures += answer is null ? 1 : 0;
                }
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = answer?["choices"]?[0]?["message"]?["content"]?.GetValue<string>() ?? "" });
            }
        }));
        var distribution = Distribution.Of(latencies);
        Console.WriteLine($"{latencies.Count} turns, {failures} failed: latency median {distribution.Median:F0} ms, p90 {distribution.P90:F0} ms; " +
                          $"prefix-hit ceiling {(double)ceilingLow / promptTokens:F3}–{(double)ceilingHigh / promptTokens:F3} of {promptTokens} prompt tokens");
        return failures == 0 ? 0 : 1;
    }

    private static async Task<int[]> TokenizeAsync(HttpClient http, string url, JsonArray messages)
    {
        using var response = await http.PostAsJsonAsync(url, new JsonObject { ["messages"] = messages.DeepClone() });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["tokens"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
    }
}
