using Microsoft.ML.OnnxRuntimeGenAI;

namespace Tests.Support;

/// <summary>ONNX Runtime GenAI's own generator on a model folder: the reference the runner's logits are checked against.</summary>
internal sealed class GenAiReference : IDisposable
{
    private readonly Model _model;
    private readonly GeneratorParams _parameters;
    private readonly Generator _generator;

    public GenAiReference(string directory, int maxLength)
    {
        Worker.Runner.GenAiProcess.EnsureInitialized();
        _model = new Model(directory);
        _parameters = new GeneratorParams(_model);
        _parameters.SetSearchOption("max_length", maxLength);
        _generator = new Generator(_model, _parameters);
    }

    /// <summary>Appends the tokens and returns the logits GenAI computed for them: one row per appended position.</summary>
    public float[] Append(int[] tokens)
    {
        _generator.AppendTokens(tokens);
        using var output = _generator.GetOutput("logits");
        return output.GetData<float>().ToArray();
    }

    public void Dispose()
    {
        _generator.Dispose();
        _parameters.Dispose();
        _model.Dispose();
    }
}
