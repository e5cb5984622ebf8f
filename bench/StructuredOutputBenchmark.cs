using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Engine;
using Worker.Hosting;
using Worker.Options;
using Worker.Runner;
using Worker.StructuredOutput;

namespace Bench;

/// <summary>
/// What structured output costs, in one process. Part 1: the engine on a model at batch 8 (no HTTP), unconstrained
/// and constrained by a JSON Schema, rounds alternated (A B B A …), every sequence to the full length (ignore_eos on
/// both sides, so both run 8 rows every step): ms per step, and the constrained side's mask time per step and its
/// share of the step. Part 2: a vocabulary of a real model's size (the tokenizer --tokenizer-dir holds, e.g. 32k tokens
/// from build-tokenizer): 8 sequences sampled from random logits under the schema, per token the mask (masking the
/// logits and following the token) against sampling alone on the same logits; the first pass meets every state for
/// the first time (cold), the second finds their masks cached (warm).
/// </summary>
internal static class StructuredOutputBenchmark
{
    private const string Schema = """
        {"type":"object","properties":{
          "id":{"type":"integer","minimum":0,"maximum":1000000},
          "title":{"type":"string","maxLength":40},
          "tags":{"type":"array","items":{"enum":["alpha","beta","gamma","delta"]},"maxItems":6},
          "notes":{"type":"array","items":{"type":"object","properties":{"at":{"type":"string","format":"date"},"text":{"type":"string","maxLength":60},
                   "score":{"type":"number","minimum":-5,"maximum":5}},"required":["text","score"],"additionalProperties":false},"maxItems":200}},
         "required":["id","title","tags","notes"],"additionalProperties":false}
        """;

    public static async Task<int> RunAsync(BenchArgs args)
    {
        var batch = args.Int("batch", 8);
        var outputLength = args.Int("output-len", 128);
        var rounds = args.Int("rounds", 4);
        Console.WriteLine($"{Environment.ProcessorCount} CPUs, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC; schema: {System.Text.RegularExpressions.Regex.Replace(Schema, @"\s+", "")}");
        await EngineStepsAsync(args.String("model-dir"), batch, outputLength, rounds);
        if (args.Optional("tokenizer-dir") is { } tokenizer)
        {
            LargeVocabulary(tokenizer, batch, args.Int("tokens", 256));
        }
        return 0;
    }

    private static async Task EngineStepsAsync(string directory, int batch, int outputLength, int rounds)
    {
        using var model = LoadedModel.Load(directory, "cpu", null);
        var vocabulary = TokenVocabulary.Load(Path.Combine(directory, "tokenizer.json"), model.Folder.EosTokenIds, model.Folder.VocabSize);
        var started = Stopwatch.GetTimestamp();
        var grammar = new GrammarCompiler(vocabulary).Compile(new StructuredOutputRequest(StructuredOutputType.Json, Schema, "bench", AnyWhitespace: false)).Grammar;
        Console.WriteLine($"model {directory}: vocabulary {vocabulary.Size} tokens; schema compiled in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F2} ms");
        var masks = new MaskTimes();
        var settings = new ServeOptions { Model = directory, MaxNumSeqs = batch };
        using var engine = EngineFactory.Create(model, null, null, settings, 1L << 30, new ServiceDefaults.Metrics.MetricsPolicy(), [masks], NullLogger<LlmEngine>.Instance);

        await RunBatchAsync(engine, model, Prompts.Generate(batch, 8, -1), 16, grammar); // warm-up: both paths, JIT
        await RunBatchAsync(engine, model, Prompts.Generate(batch, 8, -2), 16, null);
        Console.WriteLine($"part 1: batch {batch}, {outputLength} tokens per sequence, fresh prompts each round; ms per step:");
        var shares = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            var prompts = Prompts.Generate(batch, 32, 3000 + round);
            var sides = round % 2 == 1 ? new[] { "unconstrained", "constrained" } : ["constrained", "unconstrained"];
            foreach (var side in sides)
            {
                masks.Clear();
                var profile = await RunBatchAsync(engine, model, prompts, outputLength, side == "constrained" ? grammar : null);
                var line = $"round {round} {side,-13} {profile.WholeMs / profile.Steps:F3} ms/step over {profile.Steps} steps";
                if (side == "constrained")
                {
                    var maskMs = masks.Total * 1000 / profile.Steps;
                    var perRow = Distribution.Of(masks.PerRow.Select(s => s * 1000).ToArray());
                    shares.Add(maskMs / (profile.WholeMs / profile.Steps));
                    line += $"; mask {maskMs:F3} ms/step = {100 * shares[^1]:F2} % of the step (per row-step p50 {perRow.Median * 1000:F1} µs, p99 {perRow.P99 * 1000:F1} µs)";
                }
                Console.WriteLine(line);
            }
        }
        Console.WriteLine($"mask share of a constrained step at batch {batch}: median {100 * shares.Order().ElementAt(shares.Count / 2):F2} %, max {100 * shares.Max():F2} %");
    }

    /// <summary>Every sequence samples at temperature 0.8 with its own seed, to the full length.</summary>
    private static Task<StepProfile> RunBatchAsync(LlmEngine engine, LoadedModel model, IReadOnlyList<string> prompts, int outputLength, Grammar? grammar) =>
        StepProfileBenchmark.ProfileEngineAsync(engine, model, prompts, outputLength,
            i => new SamplingParams { MaxTokens = outputLength, Temperature = 0.8, Seed = i, IgnoreEos = true, Grammar = grammar });

    /// <summary>The engine's own record of each constrained row's mask time per step (what the mask histogram records).</summary>
    private sealed class MaskTimes : IEngineStatsSink
    {
        private readonly ConcurrentQueue<double> _rows = new();

        public IReadOnlyCollection<double> PerRow => _rows;

        public double Total => _rows.Sum();

        public void Clear() => _rows.Clear();

        public void Record(StepStats stats)
        {
            foreach (var seconds in stats.GrammarMaskSeconds)
            {
                _rows.Enqueue(seconds);
            }
        }
    }

    private static void LargeVocabulary(string directory, int sequences, int tokens)
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "tokenizer.json")));
        var vocab = config.RootElement.GetProperty("model").GetProperty("vocab");
        var size = vocab.EnumerateObject().Count() + config.RootElement.GetProperty("added_tokens").GetArrayLength();
        var eos = config.RootElement.GetProperty("added_tokens").EnumerateArray().First().GetProperty("id").GetInt32();
        var vocabulary = TokenVocabulary.Load(Path.Combine(directory, "tokenizer.json"), [eos], size);
        var started = Stopwatch.GetTimestamp();
        var grammar = new GrammarCompiler(vocabulary).Compile(new StructuredOutputRequest(StructuredOutputType.Json, Schema, "bench", AnyWhitespace: false)).Grammar;
        Console.WriteLine($"part 2: vocabulary {size} tokens ({directory}); schema compiled in {Stopwatch.GetElapsedTime(started).TotalMilliseconds:F2} ms; " +
                          $"{sequences} sequences × {tokens} tokens from random logits, temperature 0.8; µs per token:");
        var random = new Random(1);
        var logits = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, size).Select(_ => (float)(random.NextDouble() * 8)).ToArray()).ToArray();
        for (var pass = 1; pass <= 2; pass++)
        {
            var mask = new List<double>();
            var sampling = new List<double>();
            for (var s = 0; s < sequences; s++)
            {
                var matcher = new GrammarMatcher(grammar);
                var draw = new Random(100 + s);
                var row = new float[size];
                for (var t = 0; t < tokens; t++)
                {
                    var source = logits[(s * 7 + t) % logits.Length];
                    source.CopyTo(row, 0);
                    var before = Stopwatch.GetTimestamp();
                    Sampler.Sample(row, new SamplingParams { MaxTokens = 1, Temperature = 0.8 }, new Random(t));
                    sampling.Add(Stopwatch.GetElapsedTime(before).TotalMicroseconds);

                    source.CopyTo(row, 0);
                    before = Stopwatch.GetTimestamp();
                    matcher.Mask(matcher.State, row);
                    var masked = Stopwatch.GetTimestamp();
                    var token = Sampler.Sample(row, new SamplingParams { MaxTokens = 1, Temperature = 0.8 }, draw);
                    var sampled = Stopwatch.GetTimestamp();
                    if (token == eos)
                    {
                        matcher = new GrammarMatcher(grammar); // the value is complete: the next sequence starts
                        mask.Add(Stopwatch.GetElapsedTime(before, masked).TotalMicroseconds);
                        continue;
                    }
                    matcher.State = grammar.Advance(matcher.State, token);
                    mask.Add(Stopwatch.GetElapsedTime(before, masked).TotalMicroseconds + Stopwatch.GetElapsedTime(sampled).TotalMicroseconds);
                }
            }
            var m = Distribution.Of(mask);
            var u = Distribution.Of(sampling);
            Console.WriteLine($"pass {pass} ({(pass == 1 ? "cold: states met for the first time" : "warm: masks cached")}): mask p50 {m.Median:F1} p99 {m.P99:F1} mean {m.Mean:F1}; " +
                              $"unconstrained sampling alone p50 {u.Median:F1} p99 {u.P99:F1} mean {u.Mean:F1}; mask / sampling (means) {m.Mean / u.Mean:F2}; grammar states {grammar.StateCount}");
        }
    }
}
