using System.Diagnostics;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Bench;

/// <summary>
/// The bare ONNX Runtime GenAI loop on a model folder: no server, no scheduler, one Generator, greedy,
/// a fixed number of output tokens. What serving costs is measured against this.
/// </summary>
internal sealed class GenerateBenchmark : IDisposable
{
    private readonly OgaHandle _handle = new();
    private readonly Model _model;
    private readonly Tokenizer _tokenizer;

    public GenerateBenchmark(string modelDirectory)
    {
        _model = new Model(modelDirectory);
        _tokenizer = new Tokenizer(_model);
    }

    public static int Run(BenchArgs args)
    {
        using var bench = new GenerateBenchmark(args.String("model-dir"));
        var outputLength = args.Int("output-len", 128);
        var rates = Prompts.Generate(args.Int("num-prompts", 5), args.Int("input-words", 32), args.Int("seed", 0))
            .Select(prompt => bench.TokensPerSecond(prompt, outputLength))
            .ToArray();
        Console.WriteLine($"bare generate loop: {outputLength} tokens per prompt, median {Distribution.Of(rates).Median:F1} tok/s over {rates.Length} prompts");
        return 0;
    }

    /// <summary>Output tokens per second from the prompt's arrival to the last token, as a client would time it.</summary>
    public double TokensPerSecond(string prompt, int outputLength)
    {
        var started = Stopwatch.GetTimestamp();
        using var sequences = _tokenizer.Encode(prompt);
        var promptTokens = sequences[0];
        using var parameters = new GeneratorParams(_model);
        // min_length = max_length: end-of-text cannot end the run early, like ignore_eos.
        parameters.SetSearchOption("max_length", promptTokens.Length + outputLength);
        parameters.SetSearchOption("min_length", promptTokens.Length + outputLength);
        using var generator = new Generator(_model, parameters);
        generator.AppendTokens(promptTokens);
        var generated = 0;
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
            generated++;
        }
        return generated / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    public void Dispose()
    {
        _tokenizer.Dispose();
        _model.Dispose();
        _handle.Dispose();
    }
}
