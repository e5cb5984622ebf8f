using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Bench;

/// <summary>
/// The KV transfer against recomputing the prompt, on a prefill worker (kv_producer) and a decode worker (kv_consumer,
/// --enable-per-request-metrics). Per prompt size and round: the prefill leg, then the decode leg (max_tokens 1) whose
/// per-request metrics give the read's bytes and duration and the request's time to first token; then a fresh prompt of
/// the same size computed by the decode worker itself. Prints bytes/s on the wire and TTFT with the read vs recomputed.
/// </summary>
internal static class KvTransferBenchmark
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        using var http = StreamingClient.CreateHttpClient();
        var prefillUrl = args.String("prefill-url").TrimEnd('/');
        var decodeUrl = args.String("decode-url").TrimEnd('/');
        var model = args.String("model");
        var rounds = args.Int("rounds", 3);
        Console.WriteLine("| prompt tokens | KV bytes | read (ms) | read MiB/s | decode TTFT after read (ms) | decode TTFT recomputing (ms) | prefill leg (ms) |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        // Seeds of their own: prompts another benchmark sent may sit in the decode worker's prefix cache.
        var seed = args.Int("seed", 100_000);
        foreach (var words in args.String("prompt-words", "100,300,700").Split(',').Select(int.Parse))
        {
            var reads = new List<(double Tokens, double Bytes, double ReadMs, double TtftMs, double LocalTtftMs, double PrefillMs)>();
            for (var round = 0; round < rounds; round++)
            {
                var prompt = Prompts.Generate(1, words, seed++)[0];
                var prefillStarted = Stopwatch.GetTimestamp();
                var prefill = await PostAsync(http, prefillUrl, new JsonObject
                {
                    ["model"] = model, ["prompt"] = prompt, ["max_tokens"] = 1, ["stream"] = false,
                    ["kv_transfer_params"] = new JsonObject { ["do_remote_decode"] = true, ["do_remote_prefill"] = false },
                });
                var prefillMs = Stopwatch.GetElapsedTime(prefillStarted).TotalMilliseconds;
                async Task<JsonNode> DecodeAsync() => await PostAsync(http, decodeUrl, new JsonObject
                {
                    ["model"] = model, ["prompt"] = prompt, ["max_tokens"] = 1, ["include_metrics"] = true,
                    ["kv_transfer_params"] = prefill["kv_transfer_params"]!.DeepClone(),
                });
                // Recomputed: a fresh prompt of the same size, so that no cache serves it.
                var fresh = Prompts.Generate(1, words, seed++)[0];
                async Task<JsonNode> RecomputeAsync() => await PostAsync(http, decodeUrl, new JsonObject
                {
                    ["model"] = model, ["prompt"] = fresh, ["max_tokens"] = 1, ["include_metrics"] = true,
                });
                // Counterbalanced: the read first in even rounds, the recompute first in odd ones.
                JsonNode decode, local;
                if (round % 2 == 0)
                {
                    decode = await DecodeAsync();
                    local = await RecomputeAsync();
                }
                else
                {
                    local = await RecomputeAsync();
                    decode = await DecodeAsync();
                }
                var transfer = decode["metrics"]!["kv_transfer"]!;
                reads.Add((decode["usage"]!["prompt_tokens"]!.GetValue<int>(), transfer["bytes"]!.GetValue<long>(), transfer["transfer_ms"]!.GetValue<double>(),
                    decode["metrics"]!["time_to_first_token_ms"]!.GetValue<double>(), local["metrics"]!["time_to_first_token_ms"]!.GetValue<double>(), prefillMs));
            }
            var bytes = reads.Average(r => r.Bytes);
            var readMs = reads.Select(r => r.ReadMs).Order().ElementAt(reads.Count / 2);
            Console.WriteLine($"| {reads.Average(r => r.Tokens):F0} | {bytes / (1 << 20):F1} MiB | {readMs:F1} | {bytes / (1 << 20) / (readMs / 1000):F0} | " +
                $"{Median(reads.Select(r => r.TtftMs))} | {Median(reads.Select(r => r.LocalTtftMs))} | {Median(reads.Select(r => r.PrefillMs))} |");
        }
        return 0;
    }

    private static string Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2].ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<JsonNode> PostAsync(HttpClient http, string baseUrl, JsonObject body)
    {
        using var response = await http.PostAsJsonAsync(baseUrl + "/completions", body);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonNode.Parse(text)! : throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {text}");
    }
}
