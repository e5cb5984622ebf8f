namespace Worker.StructuredOutput;

/// <summary>
/// One way the grammar may go on: a persistent stack of what is left to match, top first (a node and how far into it:
/// a sequence's next item, a repeat's count). Stacks share their tails and compare by content, so equal parse
/// positions reached along different paths are one state.
/// </summary>
internal sealed class ParseStack : IEquatable<ParseStack>
{
    private readonly int _hash;

    public ParseStack(GrammarNode node, int index, ParseStack? next)
    {
        Node = node;
        Index = index;
        Next = next;
        Depth = (next?.Depth ?? 0) + 1;
        _hash = HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(node), index, next?._hash ?? 0);
    }

    public GrammarNode Node { get; }

    public int Index { get; }

    public ParseStack? Next { get; }

    public int Depth { get; }

    public bool Equals(ParseStack? other)
    {
        var a = this;
        var b = other;
        while (a is not null && b is not null)
        {
            if (ReferenceEquals(a, b))
            {
                return true;
            }
            if (a._hash != b._hash || !ReferenceEquals(a.Node, b.Node) || a.Index != b.Index)
            {
                return false;
            }
            a = a.Next;
            b = b.Next;
        }
        return a is null && b is null;
    }

    public override bool Equals(object? obj) => obj is ParseStack other && Equals(other);

    public override int GetHashCode() => _hash;
}
