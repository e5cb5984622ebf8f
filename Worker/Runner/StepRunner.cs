using System.Diagnostics;

namespace Worker.Runner;

/// <summary>
/// Executes a step (vLLM's execute_model then sample): applies the cache manager's operations, runs the rows' batched
/// forward passes, samples each row and verifies its guesses, and cuts rejected guesses out of both caches (the target's
/// and the draft model's). Returns the tokens per row; the engine decides what they mean for the request (stops, finishes).
/// </summary>
/// <param name="draftCache">The draft model's arena (speculative decoding with a draft model): a slot per running slot of the same number.</param>
internal sealed class StepRunner(IModelRunner model, KvArena? draftCache = null)
{
    public int VocabSize => model.VocabSize;

    /// <summary>Applies cache operations outside a step (what finished between steps; slots a KV read is about to write).</summary>
    public void Apply(IReadOnlyList<KvCacheOperation> operations)
    {
        model.Cache.Apply(operations);
        if (draftCache is null)
        {
            return;
        }
        foreach (var operation in operations)
        {
            // The draft keeps no prefixes and catches up from its own length: only a running slot's free concerns it.
            if (operation is KvCacheOperation.Free free && free.Slot < draftCache.Slots)
            {
                draftCache.Free(free.Slot);
            }
        }
    }

    /// <exception cref="Exception">The forward pass failed: every row's cache is in doubt.</exception>
    public RowOutput[] Execute(StepInput step)
    {
        Apply(step.CacheOperations);
        if (step.Rows.Count == 0)
        {
            return [];
        }
        var rows = new RunnerRow[step.Rows.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var row = step.Rows[i];
            var tokens = row.Guesses.Length == 0 ? row.Tokens : [.. row.Tokens, .. row.Guesses];
            // Prompt logprobs want the logits of every fed position from their first one on (the sampled ones are the last).
            var prompt = row.PromptLogprobs is { } targets ? row.Tokens.Length - targets.FirstPosition : 0;
            rows[i] = new RunnerRow(row.Slot, tokens, Math.Max(SampledPositions(row), prompt), row.Lora);
        }
        var logits = model.Execute(rows);
        var outputs = new RowOutput[rows.Length];
        var offset = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            var row = step.Rows[i];
            var rowLogits = logits.AsSpan(offset, rows[i].LogitsRows * VocabSize);
            offset += rowLogits.Length;
            outputs[i] = row.Sampling is { } sampling
                ? SampleAndVerify(row, sampling, rowLogits[((rows[i].LogitsRows - SampledPositions(row)) * VocabSize)..], step.CheckLogitsForNaN)
                : new RowOutput([]);
            if (row.PromptLogprobs is { } targets)
            {
                outputs[i] = outputs[i] with { PromptLogprobs = PromptLogprobs(targets, rowLogits, row.Tokens.Length - rows[i].LogitsRows) };
            }
        }
        return outputs;
    }

    /// <summary>The positions a row samples at: its last fed token and each guess; none for a prefill chunk that does not sample.</summary>
    private static int SampledPositions(StepRow row) => row.Sampling is null ? 0 : 1 + row.Guesses.Length;

    /// <summary>
    /// Samples each position from the target's own logits with the row's sampler, in order: a guess equal to the
    /// sampled token is accepted and the next position checked; the first that differs is replaced by the sampled
    /// token (after all are accepted, the next sampled token is a bonus). Every emitted token is the one the target
    /// alone would have sampled with the same random draws, so output is unchanged by speculation, greedy or seeded.
    /// The cache keeps the fed tokens and the accepted guesses; the last emitted token is fed next step.
    /// </summary>
    private RowOutput SampleAndVerify(StepRow row, RowSampling sampling, Span<float> logits, bool checkNaN)
    {
        var emitted = new List<int>(row.Guesses.Length + 1);
        var logprobs = sampling.Parameters.Logprobs is not null ? new List<TokenLogprobs>(row.Guesses.Length + 1) : null;
        var sawNaN = false;
        var grammar = sampling.Grammar;
        var state = grammar?.State;
        var maskTicks = 0L;
        try
        {
            for (var position = 0; position <= row.Guesses.Length; position++)
            {
                var positionLogits = logits.Slice(position * VocabSize, VocabSize);
                sawNaN |= checkNaN && HasNaN(positionLogits);
                var maskStarted = grammar is null ? 0 : Stopwatch.GetTimestamp();
                grammar?.Mask(state!, positionLogits); // a guess is verified under the same mask: lossless
                var maskEnded = grammar is null ? 0 : Stopwatch.GetTimestamp();
                var token = Sampler.Sample(positionLogits, sampling.Parameters, sampling.Random);
                emitted.Add(token);
                logprobs?.Add(LogprobsCalculator.Compute(positionLogits, token, sampling.Parameters.Logprobs!.Value, sampling.Parameters));
                if (grammar is not null)
                {
                    var advanceStarted = Stopwatch.GetTimestamp();
                    state = grammar.Grammar.Advance(state!, token);
                    maskTicks += maskEnded - maskStarted + Stopwatch.GetTimestamp() - advanceStarted;
                }
                if (position == row.Guesses.Length || token != row.Guesses[position])
                {
                    break;
                }
            }
        }
        catch (NonFiniteLogitsException e)
        {
            return new RowOutput([], sawNaN, e.Message);
        }
        if (grammar is not null)
        {
            grammar.State = state!;
        }
        var rejected = row.Guesses.Length - (emitted.Count - 1);
        model.Cache.Truncate(row.Slot, model.Cache.Length(row.Slot) - rejected);
        draftCache?.Truncate(row.Slot, model.Cache.Length(row.Slot)); // what the draft fed past the committed tokens
        return new RowOutput(emitted.ToArray(), sawNaN, MaskSeconds: (double)maskTicks / Stopwatch.Frequency, Logprobs: logprobs?.ToArray());
    }

    /// <summary>
    /// The prompt tokens' logprobs from the logits of the positions before them, as log-softmax of the raw logits (vLLM's
    /// prompt logprobs are never processed). <paramref name="firstReturned"/>: the fed position of the logits' first row.
    /// </summary>
    private TokenLogprobs[] PromptLogprobs(PromptTargets targets, ReadOnlySpan<float> logits, int firstReturned)
    {
        var raw = new SamplingParams { MaxTokens = 1, LogprobsMode = LogprobsMode.RawLogprobs };
        var result = new TokenLogprobs[targets.Tokens.Length];
        for (var j = 0; j < result.Length; j++)
        {
            var row = targets.FirstPosition + j - firstReturned;
            result[j] = LogprobsCalculator.Compute(logits.Slice(row * VocabSize, VocabSize), targets.Tokens[j], targets.Top, raw);
        }
        return result;
    }

    private static bool HasNaN(ReadOnlySpan<float> values)
    {
        foreach (var value in values)
        {
            if (float.IsNaN(value))
            {
                return true;
            }
        }
        return false;
    }
}
