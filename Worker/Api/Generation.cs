using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Worker.Engine;

namespace Worker.Api;

/// <summary>
/// The engine requests behind one API call (one per prompt) and the outputs they stream back. Disposing it
/// before every choice has finished aborts what is left: a client that goes away frees what it held.
/// </summary>
internal sealed class Generation : IDisposable
{
    private readonly LlmEngine _engine;
    private readonly Channel<SequenceOutput> _outputs = Channel.CreateUnbounded<SequenceOutput>(new UnboundedChannelOptions { SingleReader = true });
    private readonly EngineRequest[] _requests;
    private int _finishedChoices;

    public Generation(LlmEngine engine, GenerationRequest request)
    {
        _engine = engine;
        _requests = request.Prompts
            .Select((prompt, i) => new EngineRequest(
                request.Prompts.Count == 1 ? request.RequestId : $"{request.RequestId}-{i}",
                prompt, request.Sampling[i], _outputs.Writer, firstChoice: i * request.N))
            .ToArray();
        ChoiceCount = request.ChoiceCount;
        foreach (var engineRequest in _requests)
        {
            engine.Submit(engineRequest);
        }
    }

    public int ChoiceCount { get; }

    /// <summary>Every output until each choice has its finish.</summary>
    public async IAsyncEnumerable<SequenceOutput> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (_finishedChoices < ChoiceCount)
        {
            var output = await _outputs.Reader.ReadAsync(cancellationToken);
            if (output.Finish is not null)
            {
                _finishedChoices++;
            }
            yield return output;
        }
    }

    public void Dispose()
    {
        if (_finishedChoices < ChoiceCount)
        {
            foreach (var request in _requests)
            {
                _engine.Abort(request);
            }
        }
    }
}
