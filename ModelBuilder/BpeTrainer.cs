namespace ModelBuilder;

/// <summary>Trains byte-level BPE merges on documents, deterministically.</summary>
internal static class BpeTrainer
{
    /// <summary>
    /// Greedy BPE: repeatedly merge the most frequent adjacent pair. Ties go to the ordinally smallest
    /// pair so that the result never depends on dictionary ordering. Stops at <paramref name="mergeCount"/>
    /// merges or when no pair occurs twice.
    /// </summary>
    public static BpeVocabulary Train(IEnumerable<string> documents, int mergeCount)
    {
        var words = documents
            .SelectMany(ByteLevel.PreTokenize)
            .GroupBy(w => w, StringComparer.Ordinal)
            .Select(g => (Symbols: g.Key.Select(c => c.ToString()).ToList(), Count: g.Count()))
            .ToList();

        var merges = new List<(string, string)>();
        while (merges.Count < mergeCount)
        {
            var pairCounts = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
            {
                for (var i = 0; i < symbols.Count - 1; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
                }
            }

            var best = pairCounts
                .OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
                .FirstOrDefault();
            if (best.Value < 2)
            {
                break;
            }

            merges.Add(best.Key);
            foreach (var (symbols, _) in words)
            {
                for (var i = 0; i < symbols.Count - 1; i++)
                {
                    if (symbols[i] == best.Key.Item1 && symbols[i + 1] == best.Key.Item2)
                    {
                        symbols[i] += symbols[i + 1];
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }
        return new BpeVocabulary(merges);
    }
}
