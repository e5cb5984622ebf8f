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
    private readonly bool _ownsModel;

    public GenerateBenchmark(string modelDirectory, int batch = 1)
        : this(LoadedModel.Load(modelDirectory, "cpu", null), batch, ownsModel: true)
    {
    }

    /// <param name="model">Shared with an engine being compared (one ONNX Runtime session, one thread pool); disposed only when owned.</param>
    public GenerateBenchmark(LoadedModel model, int batch, bool ownsModel = false)
    {
        _model = model;
        _ownsModel = ownsModel;
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
        Generate(prompts, outputLength);
        return prompts.Count * outputLength / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    /// <summary>The same loop, split per step (see <see cref="StepProfile"/>).</summary>
    public StepProfile Profile(IReadOnlyList<string> prompts, int outputLength)
    {
        var measure = StepProfile.Start(_model.Decoder, 0);
        Generate(prompts, outputLength);
        return measure.Stop(outputLength);
    }

    private void Generate(IReadOnlyList<string> prompts, int outputLength)
    {
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
    }

    public void Dispose()
    {
        _runner.Dispose();
        if (_ownsModel)
        {
            _model.Dispose();
        }
    }
}
