namespace ModelBuilder;

/// <summary>
/// A trained byte-level BPE vocabulary: 256 byte symbols (id = byte value), then one token per merge in
/// rank order, then the special tokens. Encodes exactly as an HF "BPE" model with a ByteLevel pre-tokenizer.
/// </summary>
internal sealed class BpeVocabulary
{
    public const string EndOfText = "<|endoftext|>";
    public const string Pad = "<|pad|>";

    private readonly Dictionary<(string, string), int> _mergeRanks;
    private readonly Dictionary<string, int> _ids;

    public BpeVocabulary(IReadOnlyList<(string Left, string Right)> merges)
    {
        Merges = merges;
        _mergeRanks = merges.Select((m, rank) => (m, rank)).ToDictionary(x => x.m, x => x.rank);
        var tokens = new List<string>(ByteLevel.ByteToChar.Select(c => c.ToString()));
        // Two merges may make the same token ("a"+"bc", "ab"+"c"): it gets one id, the first's.
        var known = tokens.ToHashSet(StringComparer.Ordinal);
        tokens.AddRange(merges.Select(m => m.Left + m.Right).Where(known.Add));
        tokens.Add(EndOfText);
        tokens.Add(Pad);
        Tokens = tokens;
        _ids = tokens.Select((t, id) => (t, id)).ToDictionary(x => x.t, x => x.id);
    }

    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    /// <summary>Every token string, indexed by id.</summary>
    public IReadOnlyList<string> Tokens { get; }

    public int Count => Tokens.Count;
    public int EndOfTextId => _ids[EndOfText];
    public int PadId => _ids[Pad];

    /// <summary>The reference encoder: special tokens split out first, then BPE by merge rank per pre-token.</summary>
    public List<int> Encode(string text)
    {
        var ids = new List<int>();
        var pieces = text.Split(EndOfText);
        for (var i = 0; i < pieces.Length; i++)
        {
            if (i > 0)
            {
                ids.Add(EndOfTextId);
            }
            foreach (var word in ByteLevel.PreTokenize(pieces[i]))
            {
                foreach (var symbol in MergeWord(word))
                {
                    ids.Add(_ids[symbol]);
                }
            }
        }
        return ids;
    }

    private List<string> MergeWord(string word)
    {
        var symbols = word.Select(c => c.ToString()).ToList();
        while (symbols.Count > 1)
        {
            var best = -1;
            var bestRank = int.MaxValue;
            for (var i = 0; i < symbols.Count - 1; i++)
            {
                if (_mergeRanks.TryGetValue((symbols[i], symbols[i + 1]), out var rank) && rank < bestRank)
                {
                    best = i;
                    bestRank = rank;
                }
            }
            if (best < 0)
            {
                break;
            }
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
        return symbols;
    }
}
