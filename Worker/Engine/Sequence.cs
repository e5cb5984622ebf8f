using Worker.Runner;

namespace Worker.Engine;

/// <summary>One of a request's <c>n</c> samples as the scheduler tracks it: its tokens, cache, blocks and timeline.</summary>
public sealed class Sequence
{
    private readonly List<int> _tokens;

    internal Sequence(EngineRequest request, int index, int choice)
    {
        Request = request;
        Index = index;
        Choice = choice;
        _tokens = [.. request.PromptTokens];
        // vLLM's rule for n > 1 with a seed: sample i uses seed + i, so each is reproducible on its own.
        Random = request.Parameters.Seed is { } seed ? new Random(unchecked((int)(seed + index))) : new Random();
    }

    public EngineRequest Request { get; }

    public int Index { get; }

    public int Choice { get; }

    public SequenceTimeline Timeline { get; } = new();

    public FinishReason? Finish { get; internal set; }

    /// <summary>The stop string that ended the sequence, when one did.</summary>
    public string? StopReason { get; internal set; }

    /// <summary>Prompt tokens whose KV came from the prefix pool at first scheduling.</summary>
    public int CachedPromptTokens { get; internal set; }

    public int OutputTokenCount => _tokens.Count - Request.PromptTokens.Length;

    public IReadOnlyList<int> OutputTokens => _tokens[Request.PromptTokens.Length..];

    /// <summary>Prompt and output so far.</summary>
    internal IReadOnlyList<int> Tokens => _tokens;

    internal Random Random { get; }

    /// <summary>The KV cache while the sequence runs; null while it waits.</summary>
    internal SequenceGenerator? Generator { get; set; }

    /// <summary>How many of <see cref="Tokens"/> the generator's cache holds.</summary>
    internal int CachedTokenCount { get; set; }

    internal KvAllocation Allocation { get; set; } = new();

    /// <summary>
    /// The request has stop strings: its outputs wait for the output processor's check before they count
    /// (<see cref="SequenceOutput.AwaitsCheck"/>).
    /// </summary>
    internal bool AwaitsChecks => Request.Parameters.Stop.Count > 0;

    /// <summary>Outputs sent for checking and not checked yet, oldest first.</summary>
    internal Queue<UncheckedOutput> Unchecked { get; } = new();

    /// <summary>Output tokens that are counted: all of them, less those still waiting for a check.</summary>
    internal int CountedOutputTokens { get; set; }

    /// <summary>How the engine itself ended a sequence whose last outputs still wait for their check.</summary>
    internal FinishReason? PendingFinish { get; set; }

    /// <summary>The sequence has produced an output since it was submitted (its prompt has been computed once).</summary>
    internal bool HasOutput { get; set; }

    /// <summary>The draft model's cache (speculative decoding with a draft model), and how many tokens it holds.</summary>
    internal SequenceGenerator? DraftGenerator { get; set; }

    internal int DraftCacheLength { get; set; }

    /// <summary>The guesses this sequence's next round may propose (moves with adaptive K); 0 until speculation starts.</summary>
    internal int SpeculativeK { get; set; }

    /// <summary>This sequence's speculative decoding so far, as vLLM's per-request spec-decode stats.</summary>
    public SpeculationTally Speculation { get; } = new();

    /// <summary>How many tokens the latest forward pass fed.</summary>
    internal int LastTokensFed { get; private set; }

    /// <summary>Some logits of this sequence were NaN (checked only when the engine is asked to).</summary>
    internal bool SawNaN { get; private set; }

    /// <summary>
    /// Feeds the tokens the cache lacks (the whole prompt, the rest after a prefix hit, everything after a
    /// preemption, else the last sampled token) and samples the next token. Runs in parallel with other sequences.
    /// </summary>
    internal int ComputeNextToken(LoadedModel model, bool checkForNaN)
    {
        Generator ??= model.CreateGenerator();
        var pending = TokensFrom(CachedTokenCount);
        var logits = Generator.Append(pending);
        LastTokensFed = pending.Length;
        CachedTokenCount = _tokens.Count;
        if (checkForNaN && !SawNaN)
        {
            SawNaN = HasNaN(logits);
        }
        return Sampler.Sample(logits, Request.Parameters, Random);
    }

    /// <summary>
    /// One speculative round: the proposer guesses up to <paramref name="k"/> tokens, the target computes them in
    /// one pass, and each position is sampled from the target's own logits with this sequence's sampler, in order:
    /// a guess that equals the sampled token is accepted and the next position is checked; the first that differs
    /// is replaced by the sampled token (after k accepted, the next sampled token is a bonus). Every emitted token
    /// is the one the target alone would have sampled with the same random draws, so output is unchanged, greedy or
    /// seeded. Returns the emitted tokens; the cache keeps the accepted ones.
    /// </summary>
    internal SpeculativeRound ComputeSpeculative(LoadedModel model, Speculation.IDraftProposer proposer, int k, bool checkForNaN)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var drafts = proposer.Propose(this, k);
        var drafted = System.Diagnostics.Stopwatch.GetTimestamp();
        if (drafts.Length == 0)
        {
            return new SpeculativeRound([ComputeNextToken(model, checkForNaN)], 0, 0, 0, 0);
        }

        Generator ??= model.CreateGenerator();
        var length = _tokens.Count;
        var pendingCount = length - CachedTokenCount;
        int[] input = [.. TokensFrom(CachedTokenCount), .. drafts];
        var rows = Generator.AppendForEveryRow(input);
        LastTokensFed = input.Length;
        var vocab = Generator.VocabSize;

        var emitted = new List<int>(drafts.Length + 1);
        var accepted = 0;
        for (var position = 0; position <= drafts.Length; position++)
        {
            var logits = rows.AsSpan((pendingCount - 1 + position) * vocab, vocab);
            if (checkForNaN && !SawNaN)
            {
                SawNaN = HasNaN(logits);
            }
            var token = Sampler.Sample(logits, Request.Parameters, Random);
            emitted.Add(token);
            if (position == drafts.Length || token != drafts[position])
            {
                break;
            }
            accepted++;
        }

        // Keep the accepted guesses in the cache, drop the rest; the last emitted token is fed next step.
        if (accepted < drafts.Length)
        {
            Generator.RewindTo(length + accepted);
        }
        CachedTokenCount = length + accepted;
        proposer.Commit(this, length + accepted);
        Speculation.Add(drafts.Length, accepted);
        return new SpeculativeRound(emitted.ToArray(), drafts.Length, accepted,
            System.Diagnostics.Stopwatch.GetElapsedTime(started, drafted).TotalSeconds, System.Diagnostics.Stopwatch.GetElapsedTime(drafted).TotalSeconds);
    }

    /// <summary>The tokens from <paramref name="start"/> on: what a cache holding the first <paramref name="start"/> lacks.</summary>
    internal int[] TokensFrom(int start) => _tokens.GetRange(start, _tokens.Count - start).ToArray();

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

    /// <summary>Takes a sampled token: returns how it ends the sequence, if it does (EOS, stop_token_ids, max_tokens, max_model_len).</summary>
    internal (FinishReason? Finish, bool IsStopToken) AcceptToken(int token, IReadOnlyList<int> eosTokenIds, int maxModelLength)
    {
        _tokens.Add(token);
        var parameters = Request.Parameters;
        if ((!parameters.IgnoreEos && eosTokenIds.Contains(token)) || parameters.StopTokenIds.Contains(token))
        {
            return (FinishReason.Stop, true);
        }
        return OutputTokenCount >= parameters.MaxTokens || _tokens.Count >= maxModelLength ? (FinishReason.Length, false) : (null, false);
    }

    /// <summary>A stop string ended the output after its first <paramref name="outputTokens"/> tokens: the rest are dropped.</summary>
    internal void TruncateOutput(int outputTokens) =>
        _tokens.RemoveRange(Request.PromptTokens.Length + outputTokens, OutputTokenCount - outputTokens);
}

/// <summary>An output waiting for its stop-string check: when its step ended, and how many tokens it carried.</summary>
internal readonly record struct UncheckedOutput(long StepEnded, int Tokens);
