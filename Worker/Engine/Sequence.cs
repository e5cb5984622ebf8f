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

    /// <summary>Prompt tokens whose KV was not computed here: from the prefix pool, or read from a prefill worker.</summary>
    public int CachedPromptTokens { get; internal set; }

    /// <summary>Of <see cref="CachedPromptTokens"/>, those read from a prefill worker (P/D).</summary>
    public int ExternalPromptTokens { get; internal set; }

    /// <summary>The read of this sequence's prompt KV from a prefill worker, when one completed.</summary>
    internal KvTransferTiming? KvTransfer { get; set; }

    /// <summary>The read in flight while the sequence waits for its prompt's KV (deferred).</summary>
    internal KvTransfer.KvPull? Pull { get; set; }

    /// <summary>On a producer: where the decode side reads this finished prefill's held KV (the response's kv_transfer_params).</summary>
    internal Dictionary<string, object?>? HeldKv { get; set; }

    public int OutputTokenCount => _tokens.Count - Request.PromptTokens.Length;

    public IReadOnlyList<int> OutputTokens => _tokens[Request.PromptTokens.Length..];

    /// <summary>Prompt and output so far.</summary>
    internal IReadOnlyList<int> Tokens => _tokens;

    internal Random Random { get; }

    /// <summary>The runner's KV slot while the sequence runs; -1 while it waits.</summary>
    internal int Slot { get; set; } = -1;

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

    /// <summary>The guesses this sequence's next round may propose (moves with adaptive K); 0 until speculation starts.</summary>
    internal int SpeculativeK { get; set; }

    /// <summary>This sequence's speculative decoding so far, as vLLM's per-request spec-decode stats.</summary>
    public SpeculationTally Speculation { get; } = new();

    /// <summary>Some logits of this sequence were NaN (checked only when the engine is asked to).</summary>
    internal bool SawNaN { get; set; }

    /// <summary><paramref name="count"/> tokens from <paramref name="start"/> on.</summary>
    internal int[] TokensFrom(int start, int count) => _tokens.GetRange(start, count).ToArray();

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

/// <summary>A completed read of a sequence's prompt KV: bytes moved and how long the transfer took.</summary>
public sealed record KvTransferTiming(long Bytes, double Seconds);

/// <summary>An output waiting for its stop-string check: when its step ended, and how many tokens it carried.</summary>
internal readonly record struct UncheckedOutput(long StepEnded, int Tokens);
