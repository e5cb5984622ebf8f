using System.Text;

namespace Worker.StructuredOutput;

/// <summary>
/// A grammar over bytes, as the compilers (JSON Schema, regex, choice) build it: terminals that read one byte of a
/// set, sequences, choices, bounded or unbounded repeats, and named rules that let a schema refer to itself.
/// </summary>
internal abstract class GrammarNode
{
    public static GrammarNode Empty { get; } = new SequenceNode([]);

    public static GrammarNode Byte(ByteSet set) => new TerminalNode(set);

    /// <summary>The text's UTF-8 bytes, in order.</summary>
    public static GrammarNode Literal(string text) => Sequence(Encoding.UTF8.GetBytes(text).Select(b => (GrammarNode)new TerminalNode(ByteSet.Of(b))).ToArray());

    public static GrammarNode Sequence(params GrammarNode[] items) => items.Length == 1 ? items[0] : new SequenceNode(items);

    public static GrammarNode Choice(params GrammarNode[] options) => options.Length == 1 ? options[0] : new ChoiceNode(options);

    public static GrammarNode Repeat(GrammarNode item, int min, int max = RepeatNode.Unbounded) => new RepeatNode(item, min, max);

    public static GrammarNode Optional(GrammarNode item) => new RepeatNode(item, 0, 1);
}

internal sealed class TerminalNode(ByteSet set) : GrammarNode
{
    public ByteSet Set { get; } = set;
}

internal sealed class SequenceNode(GrammarNode[] items) : GrammarNode
{
    public GrammarNode[] Items { get; } = items;
}

internal sealed class ChoiceNode(GrammarNode[] options) : GrammarNode
{
    public GrammarNode[] Options { get; } = options;
}

/// <summary>Between <see cref="Min"/> and <see cref="Max"/> repetitions (<see cref="Unbounded"/>: no upper bound).</summary>
internal sealed class RepeatNode(GrammarNode item, int min, int max) : GrammarNode
{
    public const int Unbounded = -1;

    public GrammarNode Item { get; } = item;

    public int Min { get; } = min;

    public int Max { get; } = max;
}

/// <summary>A named rule whose body is set after it is created, so that it can refer to itself ($ref recursion).</summary>
internal sealed class RuleNode(string name) : GrammarNode
{
    public string Name { get; } = name;

    public GrammarNode Body { get; set; } = Empty;
}
