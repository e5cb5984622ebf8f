namespace ModelBuilder;

/// <summary>Trains byte-level BPE merges on documents, deterministically.</summary>
internal static class BpeTrainer
{
    /// <summary>
    /// Greedy BPE: repeatedly merge the most frequent adjacent pair (left to right within a word). Ties go to the
    /// ordinally smallest pair so that the result never depends on dictionary ordering. Stops at
    /// <paramref name="mergeCount"/> merges or when no pair occurs <paramref name="minPairCount"/> times. Pair counts
    /// are kept up to date by touching only the words a merge changes, so large vocabularies (32k) train in seconds.
    /// </summary>
    public static BpeVocabulary Train(IEnumerable<string> documents, int mergeCount, int minPairCount = 2)
    {
        var symbols = new List<string>();
        var symbolIds = new Dictionary<string, int>(StringComparer.Ordinal);
        int Id(string symbol)
        {
            if (!symbolIds.TryGetValue(symbol, out var id))
            {
                symbolIds[symbol] = id = symbols.Count;
                symbols.Add(symbol);
            }
            return id;
        }

        var words = documents
            .SelectMany(ByteLevel.PreTokenize)
            .GroupBy(w => w, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Symbols: g.Key.Select(c => Id(c.ToString())).ToList(), Count: g.Count()))
            .ToList();

        var counts = new Dictionary<(int, int), long>();
        var wordsWith = new Dictionary<(int, int), HashSet<int>>();
        // Most frequent first; ties by the pair's strings, ordinally.
        var ranking = new SortedSet<(long Count, int Left, int Right)>(Comparer<(long Count, int Left, int Right)>.Create((a, b) =>
        {
            var byCount = b.Count.CompareTo(a.Count);
            if (byCount != 0)
            {
                return byCount;
            }
            var byLeft = string.CompareOrdinal(symbols[a.Left], symbols[b.Left]);
            return byLeft != 0 ? byLeft : string.CompareOrdinal(symbols[a.Right], symbols[b.Right]);
        }));

        void Count(int word, int sign)
        {
            var (list, weight) = words[word];
            for (var i = 0; i < list.Count - 1; i++)
            {
                var pair = (list[i], list[i + 1]);
                var before = counts.GetValueOrDefault(pair);
                if (before > 0)
                {
                    ranking.Remove((before, pair.Item1, pair.Item2));
                }
                var after = before + sign * weight;
                counts[pair] = after;
                if (after > 0)
                {
                    ranking.Add((after, pair.Item1, pair.Item2));
                }
                if (sign > 0)
                {
                    (wordsWith.TryGetValue(pair, out var set) ? set : wordsWith[pair] = []).Add(word);
                }
            }
        }

        for (var w = 0; w < words.Count; w++)
        {
            Count(w, +1);
        }

        var merges = new List<(string, string)>();
        while (merges.Count < mergeCount && ranking.Count > 0)
        {
            var best = ranking.Min;
            if (best.Count < minPairCount)
            {
                break;
            }
            var (left, right) = (best.Left, best.Right);
            merges.Add((symbols[left], symbols[right]));
            var merged = Id(symbols[left] + symbols[right]);
            foreach (var w in wordsWith[(left, right)].ToArray())
            {
                var list = words[w].Symbols;
                Count(w, -1);
                for (var i = 0; i < list.Count - 1; i++)
                {
                    if (list[i] == left && list[i + 1] == right)
                    {
                        list[i] = merged;
                        list.RemoveAt(i + 1);
                    }
                }
                Count(w, +1);
            }
        }
        return new BpeVocabulary(merges);
    }
}
