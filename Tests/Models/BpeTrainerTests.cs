using ModelBuilder;

namespace Tests.Models;

/// <summary>The BPE trainer, which updates pair counts incrementally, merges exactly as the textbook loop does.</summary>
public class BpeTrainerTests
{
    [Theory]
    [InlineData(ModelFolderBuilder.MergeCount)]
    [InlineData(600)]
    public void Merges_AreTheTextbookAlgorithms(int mergeCount)
    {
        var documents = Corpus.Documents;
        Assert.Equal(Textbook(documents, mergeCount), BpeTrainer.Train(documents, mergeCount).Merges);
    }

    /// <summary>Recount every pair after every merge; merge the most frequent, ties to the ordinally smallest pair.</summary>
    private static List<(string, string)> Textbook(IEnumerable<string> documents, int mergeCount)
    {
        var words = documents.SelectMany(ByteLevel.PreTokenize).GroupBy(w => w, StringComparer.Ordinal)
            .Select(g => (Symbols: g.Key.Select(c => c.ToString()).ToList(), Count: g.Count())).ToList();
        var merges = new List<(string, string)>();
        while (merges.Count < mergeCount)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
            {
                for (var i = 0; i < symbols.Count - 1; i++)
                {
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
                }
            }
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).FirstOrDefault();
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
        return merges;
    }
}
