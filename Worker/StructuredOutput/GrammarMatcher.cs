namespace Worker.StructuredOutput;

/// <summary>
/// One sequence's place in its grammar: the state after its output so far. The runner masks the logits with it before
/// sampling and moves it on by the tokens it emits.
/// </summary>
internal sealed class GrammarMatcher(Grammar grammar)
{
    public Grammar Grammar => grammar;

    public GrammarState State { get; set; } = grammar.Start;

    /// <summary>
    /// Sets the logit of every token <paramref name="state"/> does not allow to -infinity. Where no token is allowed
    /// (the value is complete and nothing may follow), only end of sequence is left.
    /// </summary>
    public void Mask(GrammarState state, Span<float> logits)
    {
        var mask = grammar.MaskOf(state);
        var allowed = false;
        for (var word = 0; word < mask.Length; word++)
        {
            var bits = mask[word];
            var start = word * 64;
            var count = Math.Min(64, logits.Length - start);
            if (count <= 0)
            {
                break;
            }
            if (bits == ulong.MaxValue)
            {
                allowed = true;
                continue;
            }
            if (bits == 0)
            {
                logits.Slice(start, count).Fill(float.NegativeInfinity);
                continue;
            }
            allowed = true;
            for (var b = 0; b < count; b++)
            {
                if ((bits & 1UL << b) == 0)
                {
                    logits[start + b] = float.NegativeInfinity;
                }
            }
        }
        if (!allowed && grammar.Vocabulary.EndOfSequence.Count > 0)
        {
            logits[grammar.Vocabulary.EndOfSequence[0]] = 0;
        }
        if (logits.Length > grammar.Vocabulary.Size)
        {
            logits[grammar.Vocabulary.Size..].Fill(float.NegativeInfinity);
        }
    }
}
