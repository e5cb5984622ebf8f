using System.Collections.Concurrent;

namespace Worker.Engine;

/// <summary>
/// vLLM's output handler: takes each loop turn's results off the engine thread and, turn by turn, records the turn's
/// stats with the sinks, publishes its snapshot, and only then writes its outputs to the requests' channels, so that
/// by the time a client has a response the metrics count it and /engine/stats shows it (and an exemplar can still
/// take the request's span, which ends once the client is answered). The engine thread only queues.
/// </summary>
internal sealed class TurnPublisher
{
    private readonly IReadOnlyList<IEngineStatsSink> _sinks;
    // Bounded: a publisher that falls this far behind (a starved core) holds the loop back rather than letting turns pile up.
    private readonly BlockingCollection<Turn> _turns = new(boundedCapacity: 64);
    private readonly Thread _thread;
    private volatile EngineSnapshot _snapshot;

    public TurnPublisher(IReadOnlyList<IEngineStatsSink> sinks, EngineSnapshot initial)
    {
        _sinks = sinks;
        _snapshot = initial;
        _thread = new Thread(Run) { Name = "engine-output", IsBackground = true };
        _thread.Start();
    }

    /// <summary>The snapshot of the latest turn published: what gauges and /engine/stats read.</summary>
    public EngineSnapshot Snapshot => _snapshot;

    /// <param name="stats">Null when the turn did nothing the sinks count.</param>
    /// <param name="applied">Told once the turn is published (a pause that took effect in it).</param>
    public void Publish(StepStats? stats, EngineSnapshot snapshot, List<(EngineRequest Request, SequenceOutput Output)> outputs, TaskCompletionSource? applied) =>
        _turns.Add(new Turn(stats, snapshot, outputs, applied));

    /// <summary>Publishes what is queued and stops; the engine calls it once, after its last turn.</summary>
    public void Complete()
    {
        _turns.CompleteAdding();
        _thread.Join();
    }

    private void Run()
    {
        foreach (var (stats, snapshot, outputs, applied) in _turns.GetConsumingEnumerable())
        {
            if (stats is not null)
            {
                foreach (var sink in _sinks)
                {
                    sink.Record(stats);
                }
            }
            _snapshot = snapshot;
            foreach (var (request, output) in outputs)
            {
                request.Output.TryWrite(output);
            }
            applied?.TrySetResult();
        }
    }

    private sealed record Turn(StepStats? Stats, EngineSnapshot Snapshot, List<(EngineRequest Request, SequenceOutput Output)> Outputs, TaskCompletionSource? Applied);
}
