namespace Worker.Runner;

/// <summary>
/// A sampler's candidates, best first (highest logit, ties to the lower id), produced as they are asked for: a heap
/// over the candidates, built in O(n), each next one costing O(log n). With top-k below the vocabulary the candidates
/// are the k best, selected first with a bounded heap (O(V log k)). Works in a buffer the caller rents.
/// </summary>
internal ref struct BestFirst
{
    private readonly ReadOnlySpan<float> _logits;
    private readonly Span<int> _heap;
    private int _count;

    public BestFirst(ReadOnlySpan<float> logits, int[] buffer, int topK)
    {
        _logits = logits;
        _heap = buffer.AsSpan(0, Math.Min(topK, logits.Length));
        _count = _heap.Length;
        for (var token = 0; token < _count; token++)
        {
            _heap[token] = token;
        }
        if (_count < logits.Length)
        {
            // The k best: a heap with the worst of them on top, replaced whenever a better token comes.
            Heapify(worstOnTop: true);
            for (var token = _count; token < logits.Length; token++)
            {
                if (Better(token, _heap[0]))
                {
                    _heap[0] = token;
                    SiftDown(0, worstOnTop: true);
                }
            }
        }
        Heapify(worstOnTop: false);
    }

    /// <summary>Every candidate, in no particular order: the k best, or the whole vocabulary.</summary>
    public readonly ReadOnlySpan<int> Members => _heap;

    /// <summary>The best candidate not yet taken; false when none is left.</summary>
    public bool TryNext(out int token)
    {
        if (_count == 0)
        {
            token = -1;
            return false;
        }
        token = _heap[0];
        _count--;
        // The taken one goes past the live heap's end: Members still lists every candidate.
        (_heap[0], _heap[_count]) = (_heap[_count], _heap[0]);
        SiftDown(0, worstOnTop: false);
        return true;
    }

    private readonly bool Better(int a, int b) => _logits[a] > _logits[b] || (_logits[a] == _logits[b] && a < b);

    private readonly void Heapify(bool worstOnTop)
    {
        for (var i = _count / 2 - 1; i >= 0; i--)
        {
            SiftDown(i, worstOnTop);
        }
    }

    /// <summary>Moves the item at <paramref name="i"/> down until the heap's order holds: the best (or the worst) on top.</summary>
    private readonly void SiftDown(int i, bool worstOnTop)
    {
        while (true)
        {
            var top = i;
            for (var child = 2 * i + 1; child <= 2 * i + 2 && child < _count; child++)
            {
                if (worstOnTop ? Better(_heap[top], _heap[child]) : Better(_heap[child], _heap[top]))
                {
                    top = child;
                }
            }
            if (top == i)
            {
                return;
            }
            (_heap[i], _heap[top]) = (_heap[top], _heap[i]);
            i = top;
        }
    }
}
