namespace Worker.Engine;

/// <summary>
/// First come, first served: sequences wait in arrival order and move to the running set while it has room.
/// The scheduler decides who runs; the engine runs them.
/// </summary>
internal sealed class Scheduler(int maxNumSeqs)
{
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];

    public int WaitingCount => _waiting.Count;

    public IReadOnlyList<Sequence> Running => _running;

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    public void Add(EngineRequest request)
    {
        foreach (var sequence in request.Sequences)
        {
            _waiting.AddLast(sequence);
        }
    }

    /// <summary>Admits waiting sequences while the running set has room; returns the newly admitted ones.</summary>
    public List<Sequence> Schedule()
    {
        var admitted = new List<Sequence>();
        while (_waiting.First is { } next && _running.Count < maxNumSeqs)
        {
            _waiting.RemoveFirst();
            _running.Add(next.Value);
            admitted.Add(next.Value);
        }
        return admitted;
    }

    /// <summary>Removes a sequence wherever it is; true if it was there.</summary>
    public bool Remove(Sequence sequence) => _running.Remove(sequence) || _waiting.Remove(sequence);

    public IEnumerable<Sequence> All => _running.Concat(_waiting);
}
