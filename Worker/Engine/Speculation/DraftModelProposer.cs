using Worker.Runner;

namespace Worker.Engine.Speculation;

/// <summary>
/// A smaller model with the target's vocabulary proposes greedily, one token per pass, from its own KV cache.
/// Its cache follows the sequence: after verification it is rewound to the committed tokens.
/// </summary>
internal sealed class DraftModelProposer(LoadedModel draft) : IDraftProposer
{
    public LoadedModel Model => draft;

    public int[] Propose(Sequence sequence, int k)
    {
        var tokens = sequence.Tokens;
        sequence.DraftGenerator ??= draft.CreateGenerator();
        var logits = sequence.DraftGenerator.Append(sequence.TokensFrom(sequence.DraftCacheLength));
        sequence.DraftCacheLength = tokens.Count;

        var proposal = new int[k];
        for (var i = 0; i < k; i++)
        {
            proposal[i] = Sampler.ArgMax(logits);
            if (i < k - 1)
            {
                logits = sequence.DraftGenerator.Append([proposal[i]]);
                sequence.DraftCacheLength++;
            }
        }
        return proposal;
    }

    public void Commit(Sequence sequence, int committed)
    {
        // The draft never fed its last proposal; what it did feed and the target accepted stays.
        if (sequence.DraftCacheLength > committed)
        {
            sequence.DraftGenerator!.RewindTo(committed);
            sequence.DraftCacheLength = committed;
        }
    }

    public void Release(Sequence sequence)
    {
        sequence.DraftGenerator?.Dispose();
        sequence.DraftGenerator = null;
        sequence.DraftCacheLength = 0;
    }
}
