using System.Threading.Channels;

namespace Worker.Engine;

/// <summary>
/// One prompt submitted to the engine, with its <c>n</c> sequences. The API creates it, the engine fills
/// the output channel; the request is done when every sequence has finished.
/// </summary>
public sealed class EngineRequest
{
    public EngineRequest(string id, int[] promptTokens, SamplingParams parameters, ChannelWriter<SequenceOutput> output, int firstChoice)
    {
        Id = id;
        PromptTokens = promptTokens;
        Parameters = parameters;
        Output = output;
        Sequences = Enumerable.Range(0, parameters.N).Select(i => new Sequence(this, i, firstChoice + i)).ToArray();
    }

    public string Id { get; }

    public int[] PromptTokens { get; }

    public SamplingParams Parameters { get; }

    internal ChannelWriter<SequenceOutput> Output { get; }

    internal IReadOnlyList<Sequence> Sequences { get; }

    internal bool IsFinished => Sequences.All(s => s.Finish is not null);
}
