using Worker.Runner;

namespace Worker.Engine.Speculation;

/// <summary>
/// A smaller model with the target's vocabulary proposes greedily from its own KV cache, batched like the target:
/// one pass catches every sequence's draft cache up with its tokens and proposes the first guess, then one batched
/// pass per further guess. A sequence's draft cache lives in the draft arena's slot of the same number as its own;
/// the step runner cuts it back to the committed tokens after verification and frees it with the target's slot.
/// </summary>
internal sealed class DraftModelProposer(LoadedModel draft, IModelRunner runner) : IDraftProposer, IDisposable
{
    public LoadedModel Model => draft;

    public int[][] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> limits)
    {
        var proposals = sequences.Select((_, i) => new int[limits[i]]).ToArray();
        var members = Enumerable.Range(0, sequences.Count).Where(i => limits[i] > 0).ToArray();
        var rows = members.Select(i =>
        {
            var cached = runner.Cache.Length(sequences[i].Slot);
            return new RunnerRow(sequences[i].Slot, sequences[i].TokensFrom(cached, sequences[i].Tokens.Count - cached), 1);
        }).ToList();
        for (var position = 0; members.Length > 0; position++)
        {
            var logits = runner.Execute(rows);
            for (var r = 0; r < members.Length; r++)
            {
                proposals[members[r]][position] = Sampler.ArgMax(logits.AsSpan(r * runner.VocabSize, runner.VocabSize));
            }
            // The last guess is never fed: the target verifies it.
            members = members.Where(i => limits[i] > position + 1).ToArray();
            rows = members.Select(i => new RunnerRow(sequences[i].Slot, [proposals[i][position]], 1)).ToList();
        }
        return proposals;
    }

    KvArena? IDraftProposer.DraftCache => runner.Cache;

    public void Dispose() => runner.Dispose();
}
