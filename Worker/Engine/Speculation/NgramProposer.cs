namespace Worker.Engine.Speculation;

/// <summary>
/// Prompt lookup: finds the sequence's last n tokens (n from prompt_lookup_max down to prompt_lookup_min) earlier
/// in its own prompt and output, and proposes the tokens that followed the latest such occurrence. No model runs.
/// </summary>
internal sealed class NgramProposer(int lookupMax, int lookupMin) : IDraftProposer
{
    public int[][] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> limits) =>
        sequences.Select((sequence, i) => Propose(sequence, limits[i])).ToArray();

    private int[] Propose(Sequence sequence, int k)
    {
        var tokens = sequence.Tokens;
        for (var n = Math.Min(lookupMax, tokens.Count - 1); n >= lookupMin; n--)
        {
            var suffixStart = tokens.Count - n;
            for (var start = suffixStart - 1; start >= 0; start--)
            {
                if (Matches(tokens, start, suffixStart, n))
                {
                    var available = Math.Min(k, tokens.Count - (start + n));
                    if (available <= 0)
                    {
                        continue;
                    }
                    var proposal = new int[available];
                    for (var i = 0; i < available; i++)
                    {
                        proposal[i] = tokens[start + n + i];
                    }
                    return proposal;
                }
            }
        }
        return [];
    }

    Runner.KvArena? IDraftProposer.DraftCache => null;

    private static bool Matches(IReadOnlyList<int> tokens, int start, int suffixStart, int n)
    {
        for (var i = 0; i < n; i++)
        {
            if (tokens[start + i] != tokens[suffixStart + i])
            {
                return false;
            }
        }
        return true;
    }
}
