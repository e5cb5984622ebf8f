using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// What the scheduler decided for one step (vLLM's SchedulerOutput): the cache operations decided since the last
/// step (prefix copies, reservations, truncations, frees), the KV reads to start once they are applied, and which
/// sequences run and what each feeds. The runner executes the rows in one batched forward pass for the decode rows,
/// plus a pass per prefill chunk.
/// </summary>
internal sealed class StepPlan
{
    public IReadOnlyList<KvCacheOperation> CacheOperations { get; set; } = [];

    /// <summary>Sequences placed to receive their prompt's KV: the blocks of the producer's to read, from the first.</summary>
    public List<(Sequence Sequence, int FirstBlock, int Blocks)> Pulls { get; } = [];

    public List<ScheduledSequence> Rows { get; } = [];
}

/// <summary>
/// One sequence's part of a step: the tokens its cache lacks that it feeds now (a whole prompt, a chunk of one, or
/// the last sampled token), how many speculative guesses it may add, and whether the step samples for it (false
/// for a prefill chunk that does not finish the prompt).
/// </summary>
internal sealed record ScheduledSequence(Sequence Sequence, int[] Tokens, int Guesses, bool Samples);
