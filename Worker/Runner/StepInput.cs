using Worker.StructuredOutput;

namespace Worker.Runner;

/// <summary>
/// One step as the runner executes it (vLLM's SchedulerOutput as the model runner takes it), plain data: the KV-cache
/// operations the scheduler decided since the last step, applied first and in order, then the rows of the batched pass.
/// </summary>
/// <param name="CheckLogitsForNaN">VLLM_COMPUTE_NANS_IN_LOGITS: report rows whose logits hold a NaN.</param>
internal sealed record StepInput(IReadOnlyList<KvCacheOperation> CacheOperations, IReadOnlyList<StepRow> Rows, bool CheckLogitsForNaN = false);

/// <summary>
/// One sequence's row: the slot it owns, the tokens its cache lacks that it feeds now, the draft's guesses fed after
/// them, how the row samples (<paramref name="Sampling"/> null for a prefill chunk that does not finish its prompt), and
/// the LoRA adapter it runs under (null: the base model). <paramref name="PromptLogprobs"/>: prompt tokens whose
/// logprobs this step computes (prompt_logprobs), each predicted by a fed position from its first one on.
/// </summary>
internal sealed record StepRow(string RequestId, int Slot, int[] Tokens, int[] Guesses, RowSampling? Sampling, LoraRequest? Lora = null,
    PromptTargets? PromptLogprobs = null);

/// <summary>
/// Prompt tokens whose logprobs a row computes: <paramref name="Tokens"/>[j] is predicted by the row's fed position
/// <paramref name="FirstPosition"/> + j; each with <paramref name="Top"/> candidates.
/// </summary>
internal sealed record PromptTargets(int FirstPosition, int[] Tokens, int Top);

/// <summary>
/// A row's sampling parameters, its sequence's own random source (seeded runs reproduce, alone or batched), and its
/// place in its grammar when its output is constrained (structured output).
/// </summary>
internal sealed record RowSampling(SamplingParams Parameters, Random Random, GrammarMatcher? Grammar = null);

/// <summary>
/// What the step gave one row: the tokens it emits (the accepted guesses, then the token sampled after them; none for
/// a row that does not sample); its cache then holds the fed tokens and the accepted guesses. <paramref name="Failure"/>
/// is set when no token could be sampled (non-finite logits); the other rows are unaffected. <paramref name="MaskSeconds"/>:
/// time spent masking the row's logits by its grammar and moving the grammar on (0 when unconstrained).
/// <paramref name="Logprobs"/>: one entry per emitted token when the row's sampling asks for logprobs; <paramref name="PromptLogprobs"/>:
/// one per target of the row's <see cref="StepRow.PromptLogprobs"/>.
/// </summary>
internal sealed record RowOutput(int[] Tokens, bool SawNaN = false, string? Failure = null, double MaskSeconds = 0, TokenLogprobs[]? Logprobs = null,
    TokenLogprobs[]? PromptLogprobs = null)
{
    /// <summary>Guesses the target agreed with: every emitted token but the last.</summary>
    public int AcceptedGuesses => Math.Max(0, Tokens.Length - 1);
}

/// <summary>A change to the KV arena's slots that the scheduler's cache manager decided; the runner applies it before the step's passes.</summary>
internal abstract record KvCacheOperation
{
    /// <summary>Copies a kept prefix's first tokens into a sequence's slot (a prefix hit), or a finished sequence's into a prefix slot.</summary>
    public sealed record CopyPrefix(int From, int To, int Tokens) : KvCacheOperation;

    /// <summary>Keeps only the slot's first tokens: a pulled prompt whose read ended short of what was reserved.</summary>
    public sealed record Truncate(int Slot, int Tokens) : KvCacheOperation;

    /// <summary>The slot will hold this many tokens once a KV read in flight has written them: batched passes write past them.</summary>
    public sealed record Reserve(int Slot, int Tokens) : KvCacheOperation;

    /// <summary>Empties the slot and gives its pages back.</summary>
    public sealed record Free(int Slot) : KvCacheOperation;
}
