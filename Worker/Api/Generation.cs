using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Worker.Engine;
using Worker.Hosting;
using Worker.Output;

namespace Worker.Api;

/// <summary>
/// The engine requests behind one API call (one per prompt) and what they stream back, already through the request's
/// output processor. Disposing it before every choice has finished aborts what is left: a client that goes away frees
/// what it held.
/// </summary>
internal sealed class Generation : IDisposable
{
    private readonly LlmEngine _engine;
    private readonly Channel<SequenceOutput> _outputs = Channel.CreateUnbounded<SequenceOutput>(new UnboundedChannelOptions { SingleReader = true });
    private readonly OutputProcessor _processor;
    private int _finishedChoices;

    /// <param name="responseId">The response's id ("cmpl-…"): the engine request id, with "-i" per prompt of a batch, as vLLM numbers them.</param>
    public Generation(EngineInstance instance, GenerationRequest request, string responseId)
    {
        _engine = instance.Engine;
        Requests = request.Prompts
            .Select((prompt, i) => new EngineRequest(
                request.Prompts.Count == 1 ? responseId : $"{responseId}-{i}",
                prompt, request.Sampling[i], request.Arrival, _outputs.Writer, firstChoice: i * request.N)
            {
                Trace = System.Diagnostics.Activity.Current,
                KvTransfer = request.KvTransfer,
                Lora = request.Lora,
            })
            .ToArray();
        ChoiceCount = request.ChoiceCount;
        _processor = new OutputProcessor(_engine, instance.Model, Requests);
    }

    /// <summary>Hands the requests to the engine; a request aborted before (a deadline already passed) ends on intake.</summary>
    /// <exception cref="EngineOverloadedException">The engine's queue is full; nothing stays submitted.</exception>
    /// <exception cref="EngineStoppedException">The engine stopped (sleep); nothing stays submitted.</exception>
    public void Submit()
    {
        var submitted = 0;
        try
        {
            for (; submitted < Requests.Count; submitted++)
            {
                _engine.Submit(Requests[submitted]);
            }
        }
        catch (Exception e) when (e is EngineOverloadedException or EngineStoppedException)
        {
            foreach (var accepted in Requests.Take(submitted))
            {
                _engine.Abort(accepted);
            }
            _finishedChoices = ChoiceCount; // nothing to wait for: disposing aborts nothing more
            throw;
        }
    }

    public IReadOnlyList<EngineRequest> Requests { get; }

    /// <summary>The sequences that have ended so far, as the engine froze them.</summary>
    public List<FinishedSequence> Finished { get; } = [];

    public int ChoiceCount { get; }

    private bool IsFinished => _finishedChoices == ChoiceCount;

    /// <summary>Every choice's deltas until each choice has its finish.</summary>
    public async IAsyncEnumerable<ChoiceDelta> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (!IsFinished)
        {
            var output = await _outputs.Reader.ReadAsync(cancellationToken);
            if (output.Finished is { } finished)
            {
                Finished.Add(finished);
            }
            if (_processor.Process(output) is not { } delta)
            {
                continue;
            }
            if (delta.Finish is not null)
            {
                _finishedChoices++;
            }
            yield return delta;
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
        _processor.Dispose();
    }
}
