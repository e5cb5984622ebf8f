namespace Worker.StructuredOutput;

/// <summary>
/// Where a constrained output stands: every parse stack whose top reads a byte next, and whether the output so far is
/// already a complete value. A <see cref="Grammar"/> keeps one instance per distinct state, with the states each byte
/// leads to and the state's token mask filled in as they are first needed: a lazily built automaton.
/// </summary>
internal sealed class GrammarState : IEquatable<GrammarState>
{
    private readonly int _hash;

    public GrammarState(ParseStack[] heads, bool isComplete)
    {
        Heads = heads;
        IsComplete = isComplete;
        var hash = isComplete ? 1 : 0;
        foreach (var head in heads)
        {
            hash += head.GetHashCode(); // order-free: the heads are a set
        }
        _hash = hash;
    }

    /// <summary>Stacks whose top is a terminal: the bytes that may come next.</summary>
    public ParseStack[] Heads { get; }

    /// <summary>The output so far is a whole value: end of sequence may come here.</summary>
    public bool IsComplete { get; }

    /// <summary>Nothing can follow, not even the end: a path the grammar does not allow.</summary>
    public bool IsDead => Heads.Length == 0 && !IsComplete;

    /// <summary>The state after each byte, filled as first asked (null: not yet computed). Only the owning grammar touches it.</summary>
    internal GrammarState?[]? Transitions { get; set; }

    /// <summary>The tokens allowed here (bit per token id), computed once.</summary>
    internal ulong[]? Mask { get; set; }

    public bool Equals(GrammarState? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        if (other is null || other._hash != _hash || other.IsComplete != IsComplete || other.Heads.Length != Heads.Length)
        {
            return false;
        }
        foreach (var head in Heads)
        {
            if (Array.IndexOf(other.Heads, head) < 0)
            {
                return false;
            }
        }
        return true;
    }

    public override bool Equals(object? obj) => obj is GrammarState other && Equals(other);

    public override int GetHashCode() => _hash;
}
