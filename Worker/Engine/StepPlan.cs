namespace Worker.Engine;

/// <summary>
/// What the scheduler decided for one step (vLLM's SchedulerOutput): which sequences run and what each feeds. The
/// runner executes it in one batched forward pass for the decode rows, plus a pass per prefill chunk.
/// </summary>
internal sealed class StepPlan
{
    public List<ScheduledSequence> Rows { get; } = [];
}

/// <summary>
/// One sequence's part of a step: the tokens its cache lacks that it feeds now (a whole prompt, a chunk of one, or
/// the last sampled token), how many speculative guesses it may add, and whether the step samples for it (false
/// for a prefill chunk that does not finish the prompt).
/// </summary>
internal sealed record ScheduledSequence(Sequence Sequence, int[] Tokens, int Guesses, bool Samples);
