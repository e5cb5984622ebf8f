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
    private int _finishedChoices;

    /// <param name="responseId">The response's id ("cmpl-…"): the engine request id, with "-i" per prompt of a batch, as vLLM numbers them.</param>
    /// <exception cref="EngineOverloadedException">The engine's queue is full; nothing stays submitted.</exception>
    public Generation(LlmEngine engine, GenerationRequest request, string responseId)
    {
        _engine = engine;
        Requests = request.Prompts
            .Select((prompt, i) => new EngineRequest(
                request.Prompts.Count == 1 ? responseId : $"{responseId}-{i}",
                prompt, request.Sampling[i], request.Arrival, _outputs.Writer, firstChoice: i * request.N)
            {
                Trace = System.Diagnostics.Activity.Current,
            })
            .ToArray();
        ChoiceCount = request.ChoiceCount;
        var submitted = 0;
        try
        {
            for (; submitted < Requests.Count; submitted++)
            {
                engine.Submit(Requests[submitted]);
            }
        }
        catch (EngineOverloadedException)
        {
            foreach (var accepted in Requests.Take(submitted))
            {
                engine.Abort(accepted);
            }
            throw;
        }
    }

    public IReadOnlyList<EngineRequest> Requests { get; }

    public int ChoiceCount { get; }

    private bool IsFinished => _finishedChoices == ChoiceCount;

    /// <summary>Every output until each choice has its finish.</summary>
    public async IAsyncEnumerable<SequenceOutput> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!IsFinished)
        {
            var output = await _outputs.Reader.ReadAsync(cancellationToken);
            if (output.Finish is not null)
            {
                _finishedChoices++;
            }
            yield return output;
        }
    }

    /// <summary>Ends every choice now (a deadline passed); the aborts still arrive as outputs.</summary>
    public void AbortAll()
    {
        foreach (var request in Requests)
        {
            _engine.Abort(request);
        }
    }

    public void Dispose()
    {
        if (!IsFinished)
        {
            AbortAll();
        }
    }
}
