using System.Diagnostics;
using System.Runtime;
using Worker.Runner;

namespace Bench;

/// <summary>
/// The bare batched-runner loop on a model folder: no server, no scheduler, one KV slot per prompt, greedy, a fixed
/// number of output tokens, every prompt's decode row in one batched pass. What serving costs is measured against
/// this: the practical limit for that many streams.
/// </summary>
internal sealed class GenerateBenchmark : IDisposable
{
    private readonly LoadedModel _model;
    private readonly OnnxBatchRunner _runner;

    public GenerateBenchmark(string modelDirectory, int batch = 1)
    {
        _model = LoadedModel.Load(modelDirectory, "cpu", null);
        _runner = new OnnxBatchRunner(_model.Decoder, slots: batch, maxLength: _model.MaxModelLength);
    }

    /// <summary>
    /// --num-prompts prompts (vellum-bench serve's for the same --prompt-seed and --input-words) at once, after a warm-up
    /// on other prompts; prints their output tokens/s first on the line, as bench/compare.sh reads it.
    /// </summary>
    public static int Run(BenchArgs args)
    {
        var prompts = Prompts.Generate(args.Int("num-prompts", 1), args.Int("input-words", 32), args.Int("prompt-seed", 0));
        using var bench = new GenerateBenchmark(args.String("model-dir"), batch: prompts.Length);
        var outputLength = args.Int("output-len", 128);
        bench.TokensPerSecond(Prompts.Generate(prompts.Length, 8, -1), 16); // JIT and first allocations, not measured
        var rate = bench.TokensPerSecond(prompts, outputLength);
        Console.WriteLine($"{rate:F1} tok/s: bare runner loop, {prompts.Length} prompts at once, {outputLength} tokens each, {(GCSettings.IsServerGC ? "server" : "workstation")} GC");
        return 0;
    }

    /// <summary>
    /// Output tokens per second of all <paramref name="prompts"/> together (at most the batch the loop was made for),
    /// from their arrival (tokenizing included) to the last token, as a client would time it.
    /// </summary>
    public double TokensPerSecond(IReadOnlyList<string> prompts, int outputLength)
    {
        var started = Stopwatch.GetTimestamp();
        var rows = new RunnerRow[prompts.Count];
        for (var slot = 0; slot < prompts.Count; slot++)
        {
            _runner.Cache.Free(slot);
            rows[slot] = new RunnerRow(slot, _model.Encode(prompts[slot]), 1);
        }
        var vocab = _runner.VocabSize;
        for (var generated = 0; generated < outputLength; generated++)
        {
            var logits = _runner.Execute(rows);
            for (var slot = 0; slot < rows.Length; slot++)
            {
                rows[slot] = new RunnerRow(slot, [Sampler.ArgMax(logits.AsSpan(slot * vocab, vocab))], 1);
            }
        }
        return prompts.Count * outputLength / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    public void Dispose()
    {
        _runner.Dispose();
        _model.Dispose();
    }
}
