using System.Diagnostics;
using Worker.Runner;

namespace Bench;

/// <summary>
/// The bare batched-runner loop on a model folder at batch 1: no server, no scheduler, one KV slot, greedy, a fixed
/// number of output tokens. What serving costs is measured against this: the practical limit for one stream.
/// </summary>
internal sealed class GenerateBenchmark : IDisposable
{
    private readonly LoadedModel _model;
    private readonly OnnxBatchRunner _runner;

    public GenerateBenchmark(string modelDirectory, int? intraOpThreads = null)
    {
        _model = LoadedModel.Load(modelDirectory, "cpu", null, intraOpThreads);
        _runner = new OnnxBatchRunner(_model.Decoder, slots: 1, maxLength: _model.MaxModelLength);
    }

    public static int Run(BenchArgs args)
    {
        using var bench = new GenerateBenchmark(args.String("model-dir"));
        var outputLength = args.Int("output-len", 128);
        var rates = Prompts.Generate(args.Int("num-prompts", 5), args.Int("input-words", 32), args.Int("seed", 0))
            .Select(prompt => bench.TokensPerSecond(prompt, outputLength))
            .ToArray();
        Console.WriteLine($"bare runner loop: {outputLength} tokens per prompt, median {Distribution.Of(rates).Median:F1} tok/s over {rates.Length} prompts");
        return 0;
    }

    /// <summary>Output tokens per second from the prompt's arrival to the last token, as a client would time it.</summary>
    public double TokensPerSecond(string prompt, int outputLength)
    {
        var started = Stopwatch.GetTimestamp();
        _runner.Cache.Free(0);
        int[] fed = _model.Encode(prompt);
        for (var generated = 0; generated < outputLength; generated++)
        {
            fed = [Sampler.ArgMax(_runner.Execute([new RunnerRow(0, fed, 1)]))];
        }
        return outputLength / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    public void Dispose()
    {
        _runner.Dispose();
        _model.Dispose();
    }
}
