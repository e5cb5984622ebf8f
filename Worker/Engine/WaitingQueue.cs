namespace Worker.Engine;

/// <summary>
/// The scheduler's waiting queue and its depth in tokens, kept as sequences enter and leave it (enqueue, preemption,
/// admission, abort), never by walking it: vLLM declined PR #38025's token gauges for a loop over the queue each step.
/// Each sequence carries the share it was counted with, so what leaves is exactly what entered and the totals cannot drift.
/// </summary>
internal sealed class WaitingQueue
{
    private readonly LinkedList<Sequence> _sequences = new();

    public int Count => _sequences.Count;

    public LinkedListNode<Sequence>? First => _sequences.First;

    /// <summary>Tokens of the waiting sequences: prompt, plus output so far for preempted ones.</summary>
    public long Tokens { get; private set; }

    /// <summary>Of <see cref="Tokens"/>, those the prefix cache did not hold when each sequence queued.</summary>
    public long UncachedTokens { get; private set; }

    /// <summary>Waiting sequences that will read their prompt's KV from a producer once placed.</summary>
    public int Pulls { get; private set; }

    public IEnumerable<Sequence> Sequences => _sequences;

    /// <param name="cachedTokens">The prefix cache's hit for the sequence now; its prefill computes the rest.</param>
    /// <param name="pulls">It will read its prompt's KV from a producer.</param>
    /// <param name="first">Back at the head (a preempted sequence), else at the tail.</param>
    public void Add(Sequence sequence, int cachedTokens, bool pulls, bool first = false)
    {
        var share = new WaitingShare(sequence.Tokens.Count, sequence.Tokens.Count - cachedTokens, pulls);
        sequence.Waiting = share;
        Tokens += share.Tokens;
        UncachedTokens += share.UncachedTokens;
        Pulls += share.Pulls ? 1 : 0;
        if (first)
        {
            _sequences.AddFirst(sequence);
        }
        else
        {
            _sequences.AddLast(sequence);
        }
    }

    public void Remove(LinkedListNode<Sequence> node)
    {
        _sequences.Remove(node);
        Left(node.Value);
    }

    /// <summary>Removes the sequence if it waits; false when it does not.</summary>
    public bool Remove(Sequence sequence)
    {
        if (!_sequences.Remove(sequence))
        {
            return false;
        }
        Left(sequence);
        return true;
    }

    public void Clear()
    {
        foreach (var sequence in _sequences)
        {
            sequence.Waiting = null;
        }
        _sequences.Clear();
        (Tokens, UncachedTokens, Pulls) = (0, 0, 0);
    }

    private void Left(Sequence sequence)
    {
        var share = sequence.Waiting!;
        sequence.Waiting = null;
        Tokens -= share.Tokens;
        UncachedTokens -= share.UncachedTokens;
        Pulls -= share.Pulls ? 1 : 0;
    }
}

/// <summary>What one waiting sequence adds to the queue's depth.</summary>
internal sealed record WaitingShare(int Tokens, int UncachedTokens, bool Pulls);
