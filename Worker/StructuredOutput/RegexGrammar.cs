using System.Globalization;
using System.Text;
using static Worker.StructuredOutput.GrammarNode;

namespace Worker.StructuredOutput;

/// <summary>
/// Compiles a regular expression (the ECMAScript subset JSON Schema's pattern and vLLM's regex use: literals, classes,
/// escapes \d \w \s, ".", groups, alternation, * + ? {n,m}) into a grammar matching whole outputs: ^ and $ are implied.
/// Inside a JSON string each character is written as JSON writes it (quote, backslash and controls escaped).
/// Lookarounds, backreferences and word boundaries are refused.
/// </summary>
internal sealed class RegexGrammar
{
    private const int MaxListedNonAscii = 512;

    /// <summary>Groups nested deeper than this are refused: the compiler recurses per group, and a request must not exhaust its stack.</summary>
    public const int MaxGroupDepth = 64;

    private readonly string _pattern;
    private readonly bool _inJsonString;
    private int _at;
    private int _depth;

    private RegexGrammar(string pattern, bool inJsonString)
    {
        _pattern = pattern;
        _inJsonString = inJsonString;
    }

    /// <exception cref="UnsupportedSchemaException">The pattern uses a construct this compiler does not support, or does not parse.</exception>
    public static GrammarNode Compile(string pattern, bool inJsonString)
    {
        var body = pattern;
        if (body.StartsWith('^'))
        {
            body = body[1..];
        }
        if (body.EndsWith('$') && !body.EndsWith("\\$", StringComparison.Ordinal))
        {
            body = body[..^1];
        }
        var parser = new RegexGrammar(body, inJsonString);
        var node = parser.Alternation();
        if (parser._at < body.Length)
        {
            throw parser.Refuse($"unexpected '{body[parser._at]}'");
        }
        return node;
    }

    private GrammarNode Alternation()
    {
        var options = new List<GrammarNode> { Concatenation() };
        while (Peek('|'))
        {
            _at++;
            options.Add(Concatenation());
        }
        return Choice([.. options]);
    }

    private GrammarNode Concatenation()
    {
        var items = new List<GrammarNode>();
        while (_at < _pattern.Length && _pattern[_at] is not ('|' or ')'))
        {
            items.Add(Quantified(Atom()));
        }
        return items.Count == 0 ? Empty : Sequence([.. items]);
    }

    private GrammarNode Quantified(GrammarNode atom)
    {
        if (_at >= _pattern.Length)
        {
            return atom;
        }
        (int Min, int Max)? bounds = _pattern[_at] switch
        {
            '*' => (0, RepeatNode.Unbounded),
            '+' => (1, RepeatNode.Unbounded),
            '?' => (0, 1),
            '{' => Braces(),
            _ => null,
        };
        if (bounds is not { } b)
        {
            return atom;
        }
        _at++; // past the quantifier (Braces left it on its closing brace)
        if (Peek('?'))
        {
            _at++; // lazy: the same language
        }
        if (Peek('+'))
        {
            throw Refuse("possessive quantifiers are not supported");
        }
        return Repeat(atom, b.Min, b.Max);
    }

    /// <summary>{n}, {n,} or {n,m}; leaves the position on the closing brace.</summary>
    private (int, int)? Braces()
    {
        var close = _pattern.IndexOf('}', _at);
        if (close < 0)
        {
            throw Refuse("unclosed '{'");
        }
        var inside = _pattern[(_at + 1)..close];
        var comma = inside.IndexOf(',');
        if (!int.TryParse(comma < 0 ? inside : inside[..comma], NumberStyles.None, CultureInfo.InvariantCulture, out var min))
        {
            throw Refuse($"bad quantifier '{{{inside}}}'");
        }
        var max = min;
        if (comma >= 0)
        {
            var upper = inside[(comma + 1)..];
            if (upper.Length == 0)
            {
                max = RepeatNode.Unbounded;
            }
            else if (!int.TryParse(upper, NumberStyles.None, CultureInfo.InvariantCulture, out max) || max < min)
            {
                throw Refuse($"bad quantifier '{{{inside}}}'");
            }
        }
        _at = close;
        return (min, max);
    }

    private GrammarNode Atom()
    {
        var c = _pattern[_at++];
        switch (c)
        {
            case '(':
                if (Peek('?'))
                {
                    if (_at + 1 < _pattern.Length && _pattern[_at + 1] == ':')
                    {
                        _at += 2;
                    }
                    else if (_at + 2 < _pattern.Length && _pattern[_at + 1] == '<' && _pattern[_at + 2] is not ('=' or '!'))
                    {
                        _at = _pattern.IndexOf('>', _at) + 1; // a named group: its name does not change the language
                        if (_at == 0)
                        {
                            throw Refuse("unclosed group name");
                        }
                    }
                    else
                    {
                        throw Refuse("lookarounds and inline flags are not supported");
                    }
                }
                if (++_depth > MaxGroupDepth)
                {
                    throw Refuse($"groups nested deeper than {MaxGroupDepth}");
                }
                var inner = Alternation();
                _depth--;
                if (!Peek(')'))
                {
                    throw Refuse("unclosed '('");
                }
                _at++;
                return inner;
            case '[':
                return Characters(Class());
            case '.':
                return Characters(new CharacterClass([(0, '\n' - 1), ('\n' + 1, '\r' - 1), ('\r' + 1, 0x7F)], AllNonAscii: true));
            case '\\':
                return Characters(Escape(inClass: false));
            case '^' or '$':
                throw Refuse($"'{c}' is only supported at the pattern's start or end");
            case '*' or '+' or '?' or '{':
                throw Refuse($"'{c}' has nothing to repeat");
            default:
                var codePoint = char.IsHighSurrogate(c) && _at < _pattern.Length ? char.ConvertToUtf32(c, _pattern[_at++]) : c;
                return Characters(new CharacterClass([(codePoint, codePoint)], AllNonAscii: false));
        }
    }

    private CharacterClass Class()
    {
        var negated = Peek('^');
        if (negated)
        {
            _at++;
        }
        var ranges = new List<(int, int)>();
        var first = true;
        while (_at < _pattern.Length && (_pattern[_at] != ']' || first))
        {
            first = false;
            var low = ClassMember(out var shorthand);
            if (shorthand is not null)
            {
                ranges.AddRange(shorthand.Ranges);
                if (shorthand.AllNonAscii)
                {
                    ranges.Add((0x80, 0x10FFFF));
                }
                continue;
            }
            if (Peek('-') && _at + 1 < _pattern.Length && _pattern[_at + 1] != ']')
            {
                _at++;
                var high = ClassMember(out var second);
                if (second is not null || high < low)
                {
                    throw Refuse("bad range in a character class");
                }
                ranges.Add((low, high));
            }
            else
            {
                ranges.Add((low, low));
            }
        }
        if (!Peek(']'))
        {
            throw Refuse("unclosed '['");
        }
        _at++;
        return negated ? CharacterClass.Complement(ranges) : CharacterClass.Of(ranges);
    }

    private int ClassMember(out CharacterClass? shorthand)
    {
        shorthand = null;
        var c = _pattern[_at++];
        if (c != '\\')
        {
            return char.IsHighSurrogate(c) && _at < _pattern.Length ? char.ConvertToUtf32(c, _pattern[_at++]) : c;
        }
        var escaped = Escape(inClass: true);
        if (escaped.Ranges.Count == 1 && escaped.Ranges[0].First == escaped.Ranges[0].Last && !escaped.AllNonAscii)
        {
            return escaped.Ranges[0].First;
        }
        shorthand = escaped;
        return -1;
    }

    private CharacterClass Escape(bool inClass)
    {
        if (_at >= _pattern.Length)
        {
            throw Refuse("a trailing backslash");
        }
        var c = _pattern[_at++];
        return c switch
        {
            'd' => CharacterClass.Of([('0', '9')]),
            'D' => CharacterClass.Complement([('0', '9')]),
            'w' => CharacterClass.Of(WordRanges),
            'W' => CharacterClass.Complement(WordRanges),
            's' => CharacterClass.Of(SpaceRanges),
            'S' => CharacterClass.Complement(SpaceRanges),
            'n' => Single('\n'),
            't' => Single('\t'),
            'r' => Single('\r'),
            'f' => Single('\f'),
            'v' => Single('\v'),
            '0' => Single('\0'),
            'b' when inClass => Single('\b'),
            'u' => Single(HexEscape(4)),
            'x' => Single(HexEscape(2)),
            'b' or 'B' => throw Refuse("word boundaries are not supported"),
            >= '1' and <= '9' => throw Refuse("backreferences are not supported"),
            'p' or 'P' or 'k' => throw Refuse($"'\\{c}' is not supported"),
            _ when char.IsAsciiLetterOrDigit(c) => throw Refuse($"unknown escape '\\{c}'"),
            _ => Single(c),
        };
    }

    private int HexEscape(int digits)
    {
        if (_at + digits > _pattern.Length || !int.TryParse(_pattern.AsSpan(_at, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
        {
            throw Refuse("a bad hexadecimal escape");
        }
        _at += digits;
        return value;
    }

    private static readonly (int, int)[] WordRanges = [('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
    private static readonly (int, int)[] SpaceRanges = [('\t', '\r'), (' ', ' ')];

    private static CharacterClass Single(int codePoint) => CharacterClass.Of([(codePoint, codePoint)]);

    private bool Peek(char c) => _at < _pattern.Length && _pattern[_at] == c;

    private UnsupportedSchemaException Refuse(string why) =>
        new("pattern", $"The regular expression '{_pattern}' cannot be compiled: {why}.");

    /// <summary>The grammar of one character of the class, as this context writes it.</summary>
    private GrammarNode Characters(CharacterClass characters)
    {
        var ascii = ByteSet.Empty;
        var options = new List<GrammarNode>();
        foreach (var (first, last) in characters.Ranges)
        {
            for (var c = first; c <= Math.Min(last, 0x7F); c++)
            {
                if (!_inJsonString || JsonGrammar.PlainStringBytes.Contains((byte)c))
                {
                    ascii = ascii.With((byte)c);
                }
                else
                {
                    options.Add(Literal(JsonEscape(c)));
                }
            }
        }
        if (!ascii.IsEmpty)
        {
            options.Insert(0, Byte(ascii));
        }
        if (characters.AllNonAscii)
        {
            // ECMAScript regexes (JSON Schema's dialect) match UTF-16 units: a character outside the BMP is two.
            options.Add(JsonGrammar.NonAsciiBmpCharacter);
        }
        else
        {
            var listed = characters.Ranges.Where(r => r.Last > 0x7F).Select(r => (First: Math.Max(r.First, 0x80), r.Last)).ToArray();
            if (listed.Sum(r => r.Last - r.First + 1) > MaxListedNonAscii)
            {
                throw Refuse($"a character class listing more than {MaxListedNonAscii} non-ASCII characters");
            }
            foreach (var (first, last) in listed)
            {
                for (var c = first; c <= last; c++)
                {
                    if (c is < 0xD800 or (> 0xDFFF and <= 0xFFFF))
                    {
                        options.Add(Literal(char.ConvertFromUtf32(c)));
                    }
                }
            }
        }
        if (options.Count == 0)
        {
            throw Refuse("a character class that matches nothing");
        }
        return Choice([.. options]);
    }

    private static string JsonEscape(int c) => c switch
    {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '\b' => "\\b",
        '\f' => "\\f",
        _ => $"\\u{c:x4}",
    };

    /// <summary>Code point ranges; <paramref name="AllNonAscii"/>: every non-ASCII character as well (negated classes, ".").</summary>
    private sealed record CharacterClass(IReadOnlyList<(int First, int Last)> Ranges, bool AllNonAscii)
    {
        public static CharacterClass Of(IEnumerable<(int, int)> ranges)
        {
            var list = ranges.ToList();
            var all = list.Any(r => r.Item1 <= 0x80 && r.Item2 >= 0x10FFFF);
            return new CharacterClass(all ? list.Where(r => r.Item1 < 0x80).Select(r => (r.Item1, Math.Min(r.Item2, 0x7F))).ToList() : list, all);
        }

        /// <summary>Every character not in the ranges; non-ASCII ones may not be listed (refused: too costly to spell out).</summary>
        public static CharacterClass Complement(IEnumerable<(int First, int Last)> ranges)
        {
            var list = ranges.ToList();
            if (list.Any(r => r.Last > 0x7F))
            {
                throw new UnsupportedSchemaException("pattern", "A negated character class that lists non-ASCII characters is not supported.");
            }
            var inside = new bool[0x80];
            foreach (var (first, last) in list)
            {
                for (var c = first; c <= last; c++)
                {
                    inside[c] = true;
                }
            }
            var result = new List<(int, int)>();
            for (var c = 0; c < 0x80; c++)
            {
                if (!inside[c])
                {
                    result.Add((c, c));
                }
            }
            return new CharacterClass(result, AllNonAscii: true);
        }
    }
}
