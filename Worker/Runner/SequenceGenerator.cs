using Microsoft.ML.OnnxRuntimeGenAI;

namespace Worker.Runner;

/// <summary>
/// One sequence's KV cache in ONNX Runtime GenAI. It is driven only by <c>AppendTokens</c> and the logits
/// output, never <c>GenerateNextToken</c>: every token the sequence holds is then in the cache, so appending
/// after a rewind (prefix reuse, verification) is always exact. Sampling is the engine's job.
/// </summary>
public sealed class SequenceGenerator : IDisposable
{
    private readonly GeneratorParams _parameters;
    private readonly Generator _generator;
    private readonly float[] _lastLogits;
    private readonly Action _onDispose;
    private bool _disposed;

    internal SequenceGenerator(Model model, int maxLength, int vocabSize, Action onDispose)
    {
        _parameters = new GeneratorParams(model);
        _parameters.SetSearchOption("max_length", maxLength);
        _generator = new Generator(model, _parameters);
        _lastLogits = new float[vocabSize];
        _onDispose = onDispose;
    }

    /// <summary>Tokens in the cache.</summary>
    public int TokenCount => (int)_generator.TokenCount();

    /// <summary>Runs the model over <paramref name="tokens"/> and returns the logits after the last one.</summary>
    public ReadOnlySpan<float> Append(scoped ReadOnlySpan<int> tokens)
    {
        _generator.AppendTokens(tokens);
        using var logits = _generator.GetOutput("logits");
        var all = logits.GetData<float>();
        all.Slice(all.Length - _lastLogits.Length).CopyTo(_lastLogits);
        return _lastLogits;
    }

    /// <summary>Runs the model over <paramref name="tokens"/> and returns the logits after each of them, row by row.</summary>
    public float[] AppendForEveryRow(scoped ReadOnlySpan<int> tokens)
    {
        _generator.AppendTokens(tokens);
        using var logits = _generator.GetOutput("logits");
        var all = logits.GetData<float>();
        return all.Slice(all.Length - tokens.Length * _lastLogits.Length).ToArray();
    }

    public int VocabSize => _lastLogits.Length;

    /// <summary>Drops every cached token after the first <paramref name="tokens"/>; appending after it is exact.</summary>
    public void RewindTo(int tokens) => _generator.RewindTo((ulong)tokens);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _generator.Dispose();
        _parameters.Dispose();
        _onDispose();
    }
}
