using static Worker.StructuredOutput.GrammarNode;

namespace Worker.StructuredOutput;

/// <summary>
/// Grammars for bounded numbers: integers exactly in a range (digit by digit, as range-to-regex tools do), and
/// decimals whose every output lies in the range (no exponent; a fraction only where the whole interval from its
/// integer part to the next one fits).
/// </summary>
internal static class NumberRanges
{
    /// <summary>Bounds past this are treated as this: no output gets near them.</summary>
    private const long Limit = 999_999_999_999_999_999;

    /// <summary>Integers from <paramref name="min"/> to <paramref name="max"/> inclusive (null: unbounded that side).</summary>
    public static GrammarNode Integers(long? min, long? max)
    {
        var low = Math.Max(min ?? -Limit, -Limit);
        var high = Math.Min(max ?? Limit, Limit);
        if (low > high)
        {
            throw new ArgumentException("empty range");
        }
        var parts = new List<GrammarNode>();
        if (low < 0)
        {
            // -n for n from max(1, -high) to -low
            parts.Add(Sequence(Literal("-"), NonNegative(Math.Max(1, -high), -low, openEnded: min is null)));
        }
        if (high >= 0)
        {
            parts.Add(NonNegative(Math.Max(0, low), high, openEnded: max is null));
        }
        return Choice([.. parts]);
    }

    /// <summary>
    /// Decimals in [min, max] (either exclusive; null: unbounded): the integers inside, and n.f with a non-zero
    /// fraction for every integer part n whose open interval (n, n+1) lies inside (its negative mirror alike).
    /// </summary>
    public static GrammarNode Decimals(double? min, bool minExclusive, double? max, bool maxExclusive)
    {
        long? intMin = min is { } lo ? (long)Math.Clamp(minExclusive && Math.Floor(lo) == lo ? lo + 1 : Math.Ceiling(lo), -Limit, Limit) : null;
        long? intMax = max is { } hi ? (long)Math.Clamp(maxExclusive && Math.Floor(hi) == hi ? hi - 1 : Math.Floor(hi), -Limit, Limit) : null;
        var parts = new List<GrammarNode>();
        if (intMin is null || intMax is null || intMin <= intMax)
        {
            parts.Add(Integers(intMin, intMax));
        }
        var fraction = Sequence(Literal("."), Repeat(JsonGrammar.Digit, 0), Byte(ByteSet.Range('1', '9')));
        // Positive: n.f in (n, n+1) with n >= 0, n >= ceil(min), n + 1 <= floor(max).
        long positiveLow = Math.Max(0, min is { } a ? (long)Math.Clamp(Math.Ceiling(a), -Limit, Limit) : 0);
        long? positiveHigh = max is { } b ? (long)Math.Clamp(Math.Floor(b), -Limit, Limit) - 1 : null;
        if (positiveHigh is null || positiveLow <= positiveHigh)
        {
            parts.Add(Sequence(NonNegative(positiveLow, positiveHigh ?? Limit, openEnded: positiveHigh is null), fraction));
        }
        // Negative: -n.f in (-(n+1), -n) with n >= 0, n >= ceil(-max), n + 1 <= floor(-min).
        long negativeLow = Math.Max(0, max is { } c ? (long)Math.Clamp(Math.Ceiling(-c), -Limit, Limit) : 0);
        long? negativeHigh = min is { } d ? (long)Math.Clamp(Math.Floor(-d), -Limit, Limit) - 1 : null;
        if (negativeHigh is null || negativeLow <= negativeHigh)
        {
            parts.Add(Sequence(Literal("-"), NonNegative(negativeLow, negativeHigh ?? Limit, openEnded: negativeHigh is null), fraction));
        }
        if (parts.Count == 0)
        {
            parts.Add(WithinOneUnit(min!.Value, minExclusive, max!.Value, maxExclusive));
        }
        return Choice([.. parts]);
    }

    /// <summary>
    /// A range that holds no integer and no whole unit interval (0.25 to 0.75): the decimals with the fewest fraction
    /// digits that fit, all sharing one integer part.
    /// </summary>
    private static GrammarNode WithinOneUnit(double min, bool minExclusive, double max, bool maxExclusive)
    {
        var low = (decimal)min;
        var high = (decimal)max;
        for (var digits = 1; digits <= 12; digits++)
        {
            var scale = (decimal)Math.Pow(10, digits);
            var first = Math.Ceiling(low * scale);
            first += minExclusive && first == low * scale ? 1 : 0;
            var last = Math.Floor(high * scale);
            last -= maxExclusive && last == high * scale ? 1 : 0;
            if (first > last)
            {
                continue;
            }
            var negative = last < 0;
            var (a, b) = negative ? (-last, -first) : (first, last);
            var whole = Math.Floor(a / scale);
            string Fraction(decimal k) => ((long)(k - whole * scale)).ToString().PadLeft(digits, '0');
            return Sequence(Literal((negative ? "-" : "") + whole + "."), SameLength(Fraction(a), Fraction(b)));
        }
        throw new ArgumentException("empty range");
    }

    /// <summary>Decimal numerals of the integers from low to high (no leading zeros); open-ended: any numeral from low up.</summary>
    private static GrammarNode NonNegative(long low, long high, bool openEnded)
    {
        if (openEnded)
        {
            // low .. the largest numeral of low's length, then any longer numeral.
            var length = low.ToString().Length;
            var top = (long)Math.Pow(10, length) - 1;
            return Choice(
                NonNegative(low, top, openEnded: false),
                Sequence(Byte(ByteSet.Range('1', '9')), Repeat(JsonGrammar.Digit, length)));
        }
        var parts = new List<GrammarNode>();
        var lowText = low.ToString();
        var highText = high.ToString();
        for (var length = lowText.Length; length <= highText.Length; length++)
        {
            var first = length == lowText.Length ? lowText : "1" + new string('0', length - 1);
            var last = length == highText.Length ? highText : new string('9', length);
            parts.Add(SameLength(first, last));
        }
        return Choice([.. parts]);
    }

    /// <summary>Numerals of one length from first to last (digit strings of that length, compared as numbers).</summary>
    private static GrammarNode SameLength(string first, string last)
    {
        if (first.Length == 1)
        {
            return Byte(ByteSet.Range(first[0], last[0]));
        }
        if (first[0] == last[0])
        {
            return Sequence(Literal(first[..1]), SameLength(first[1..], last[1..]));
        }
        var rest = first.Length - 1;
        var parts = new List<GrammarNode>
        {
            Sequence(Literal(first[..1]), SameLength(first[1..], new string('9', rest))),
        };
        if (last[0] - first[0] > 1)
        {
            parts.Add(Sequence(Byte(ByteSet.Range(first[0] + 1, last[0] - 1)), Repeat(JsonGrammar.Digit, rest, rest)));
        }
        parts.Add(Sequence(Literal(last[..1]), SameLength(new string('0', rest), last[1..])));
        return Choice([.. parts]);
    }
}
