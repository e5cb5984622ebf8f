namespace ModelBuilder;

/// <summary>
/// log P(next | current) counted on the tokenized corpus. Added to the transformer's logits, it makes the
/// tiny models emit corpus-like text, end after sentences, and agree with their drafts most of the time.
/// </summary>
internal static class BigramTable
{
    private const float Smoothing = 0.1f;
    private const float Impossible = -30f;

    /// <summary>
    /// Spread of a fixed, seeded offset on every possible pair. A small corpus counts many pairs the same
    /// number of times; without the offset those ties would be settled by each model's own transformer noise,
    /// and a draft would agree with its target little more than by chance.
    /// </summary>
    private const float TieBreakStd = 0.5f;

    /// <summary>A row-major [vocab, vocab] table.</summary>
    public static float[] Build(BpeVocabulary vocabulary, string corpus)
    {
        var v = vocabulary.Count;
        var ids = vocabulary.Encode(corpus);
        var counts = new double[v, v];
        var seen = new bool[v];
        for (var i = 0; i < ids.Count; i++)
        {
            seen[ids[i]] = true;
            if (i > 0)
            {
                counts[ids[i - 1], ids[i]]++;
            }
        }

        // Only tokens the corpus contains may follow: no stray bytes, never the pad token.
        var table = new float[v * v];
        var possible = Enumerable.Range(0, v).Where(t => seen[t] && t != vocabulary.PadId).ToArray();
        var tieBreak = new SplitMix64(0xB16A4);
        for (var current = 0; current < v; current++)
        {
            var rowTotal = possible.Sum(next => counts[current, next] + Smoothing);
            for (var next = 0; next < v; next++)
            {
                table[current * v + next] = Impossible;
            }
            foreach (var next in possible)
            {
                table[current * v + next] = (float)Math.Log((counts[current, next] + Smoothing) / rowTotal) + TieBreakStd * tieBreak.NextNormal();
            }
        }
        return table;
    }
}
