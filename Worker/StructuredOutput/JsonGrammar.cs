using static Worker.StructuredOutput.GrammarNode;

namespace Worker.StructuredOutput;

/// <summary>The pieces of JSON's own grammar (RFC 8259) that schema grammars are made of.</summary>
internal static class JsonGrammar
{
    public static readonly ByteSet Digits = ByteSet.Range('0', '9');
    private static readonly ByteSet Hex = Digits.Union(ByteSet.Range('a', 'f')).Union(ByteSet.Range('A', 'F'));
    private static readonly ByteSet Continuation = ByteSet.Range(0x80, 0xBF);

    /// <summary>
    /// Whitespace between tokens: any run of spaces, tabs and newlines, as vLLM's default backend (xgrammar's
    /// any_whitespace) allows; none with vLLM's disable_any_whitespace (compact JSON, which small models finish sooner).
    /// </summary>
    public static GrammarNode Whitespace(bool any) => any ? AnyWhitespace : Empty;

    private static readonly GrammarNode AnyWhitespace = Repeat(Byte(ByteSet.Of(" \t\n\r")), 0);

    public static readonly GrammarNode Digit = Byte(Digits);

    /// <summary>
    /// A UTF-8 encoded non-ASCII character of the Basic Multilingual Plane (well-formed: no overlongs, no surrogates):
    /// what a regular expression's "." or negated class matches, as ECMAScript regexes count UTF-16 units.
    /// </summary>
    public static readonly GrammarNode NonAsciiBmpCharacter = Choice(
        Sequence(Byte(ByteSet.Range(0xC2, 0xDF)), Byte(Continuation)),
        Sequence(Byte(ByteSet.Of(0xE0)), Byte(ByteSet.Range(0xA0, 0xBF)), Byte(Continuation)),
        Sequence(Byte(ByteSet.Range(0xE1, 0xEC).Union(ByteSet.Range(0xEE, 0xEF))), Byte(Continuation), Byte(Continuation)),
        Sequence(Byte(ByteSet.Of(0xED)), Byte(ByteSet.Range(0x80, 0x9F)), Byte(Continuation)));

    /// <summary>A UTF-8 encoded non-ASCII character (well-formed: no overlongs, no surrogates, at most U+10FFFF).</summary>
    public static readonly GrammarNode NonAsciiCharacter = Choice(
        NonAsciiBmpCharacter,
        Sequence(Byte(ByteSet.Of(0xF0)), Byte(ByteSet.Range(0x90, 0xBF)), Byte(Continuation), Byte(Continuation)),
        Sequence(Byte(ByteSet.Range(0xF1, 0xF3)), Byte(Continuation), Byte(Continuation), Byte(Continuation)),
        Sequence(Byte(ByteSet.Of(0xF4)), Byte(ByteSet.Range(0x80, 0x8F)), Byte(Continuation), Byte(Continuation)));

    /// <summary>ASCII that a JSON string holds as itself: printable, not the quote or the backslash.</summary>
    public static readonly ByteSet PlainStringBytes = ByteSet.Range(0x20, 0x7F).Except(ByteSet.Of("\"\\"));

    /// <summary>One character of a string's contents, written plainly or escaped (\u escapes never name a lone surrogate).</summary>
    public static readonly GrammarNode StringCharacter = Choice(
        Byte(PlainStringBytes),
        Sequence(Byte(ByteSet.Of("\\")), Choice(
            Byte(ByteSet.Of("\"\\/bfnrt")),
            Sequence(Byte(ByteSet.Of("u")), Choice(
                Sequence(Byte(Hex.Except(ByteSet.Of("dD"))), Byte(Hex), Byte(Hex), Byte(Hex)),
                Sequence(Byte(ByteSet.Of("dD")), Byte(ByteSet.Range('0', '7')), Byte(Hex), Byte(Hex)))))),
        NonAsciiCharacter);

    public static GrammarNode String(int minLength = 0, int maxLength = RepeatNode.Unbounded) =>
        Sequence(Literal("\""), Repeat(StringCharacter, minLength, maxLength), Literal("\""));

    public static readonly GrammarNode Integer = Sequence(Optional(Literal("-")), Choice(Literal("0"), Sequence(Byte(ByteSet.Range('1', '9')), Repeat(Digit, 0))));

    public static readonly GrammarNode Number = Sequence(
        Integer,
        Optional(Sequence(Literal("."), Repeat(Digit, 1))),
        Optional(Sequence(Byte(ByteSet.Of("eE")), Optional(Byte(ByteSet.Of("+-"))), Repeat(Digit, 1))));

    public static readonly GrammarNode Boolean = Choice(Literal("true"), Literal("false"));

    public static readonly GrammarNode Null = Literal("null");

    /// <summary>Any JSON value, objects and arrays nested as deep as the parse stack allows.</summary>
    public static GrammarNode AnyValue(bool anyWhitespace) => (anyWhitespace ? LooseValue : CompactValue).Value;

    /// <summary>Any JSON object: what response_format json_object asks for.</summary>
    public static GrammarNode AnyObject(bool anyWhitespace) => ((ChoiceNode)((RuleNode)AnyValue(anyWhitespace)).Body).Options[0];

    private static readonly Lazy<RuleNode> LooseValue = new(() => BuildAnyValue(anyWhitespace: true));
    private static readonly Lazy<RuleNode> CompactValue = new(() => BuildAnyValue(anyWhitespace: false));

    private static RuleNode BuildAnyValue(bool anyWhitespace)
    {
        var ws = Whitespace(anyWhitespace);
        var value = new RuleNode("value");
        var obj = new RuleNode("object")
        {
            Body = Delimited("{", Sequence(String(), ws, Literal(":"), ws, value), "}", anyWhitespace),
        };
        var array = new RuleNode("array") { Body = Delimited("[", value, "]", anyWhitespace) };
        value.Body = Choice(obj, array, String(), Number, Boolean, Null);
        return value;
    }

    /// <summary>open ws (item (ws "," ws item)*)? ws close: a JSON object's members or an array's items.</summary>
    public static GrammarNode Delimited(string open, GrammarNode item, string close, bool anyWhitespace, int min = 0, int max = RepeatNode.Unbounded)
    {
        var ws = Whitespace(anyWhitespace);
        var separated = Sequence(ws, Literal(","), ws, item);
        GrammarNode items = max == 0
            ? Empty
            : Sequence(item, Repeat(separated, Math.Max(0, min - 1), max == RepeatNode.Unbounded ? RepeatNode.Unbounded : max - 1));
        return Sequence(Literal(open), ws, min == 0 ? Optional(items) : items, ws, Literal(close));
    }
}
