using Worker.Runner;
using Worker.StructuredOutput;

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
        Grammar = request.Parameters.Grammar is { } grammar ? new GrammarMatcher(grammar) : null;
        PromptLogprobs = request.Parameters.PromptLogprobs is null ? null : [];
    }

    public EngineRequest Request { get; }

    public int Index { get; }

    public int Choice { get; }

    public SequenceTimeline Timeline { get; } = new();

    public FinishReason? Finish { get; internal set; }

    /// <summary>vLLM's stop_reason: the stop string (text) or the stop_token_ids entry (token id) that ended the sequence.</summary>
    public object? StopReason { get; internal set; }

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

    /// <summary>What it adds to the waiting queue's depth while it waits; null otherwise.</summary>
    internal WaitingShare? Waiting { get; set; }

    public int OutputTokenCount => _tokens.Count - Request.PromptTokens.Length;

    public IReadOnlyList<int> OutputTokens => _tokens[Request.PromptTokens.Length..];

    /// <summary>Prompt and output so far.</summary>
    internal IReadOnlyList<int> Tokens => _tokens;

    internal Random Random { get; }

    /// <summary>Logprobs of prompt tokens 1, 2, … as computed so far (prompt_logprobs); null when not asked for.</summary>
    internal List<TokenLogprobs>? PromptLogprobs { get; }

    /// <summary>Where its output stands in the request's grammar (structured output); null when unconstrained.</summary>
    internal GrammarMatcher? Grammar { get; }

    /// <summary>The runner's KV slot while the sequence runs; -1 while it waits.</summary>
    internal int Slot { get; set; } = -1;

    /// <summary>Tokens whose KV its slot holds (vLLM's num_computed_tokens): what the next step need not feed again.</summary>
    internal int ComputedTokens { get; set; }

    internal KvAllocation Allocation { get; set; } = new();

    /// <summary>
    /// The request has stop strings: only the output processor knows where its text ends, so the sequence's tokens
    /// count once, when it says so (<see cref="LlmEngine.Checked"/>).
    /// </summary>
    internal bool HasStopStrings => Request.Parameters.Stop.Count > 0;

    /// <summary>How the engine itself ended a stop-string sequence whose last output waits for its check.</summary>
    internal StopCheck? PendingFinish { get; set; }

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

    /// <summary>
    /// Takes a sampled token and says whether it ends the sequence, in vLLM's order (check_stop): EOS (unless
    /// ignore_eos), then stop_token_ids (stop_reason is the token id), then max_tokens or max_model_len.
    /// </summary>
    internal StopCheck? AcceptToken(int token, IReadOnlyList<int> eosTokenIds, int maxModelLength)
    {
        _tokens.Add(token);
        var parameters = Request.Parameters;
        if (!parameters.IgnoreEos && eosTokenIds.Contains(token))
        {
            return new StopCheck(FinishReason.Stop, null, IsStopToken: true);
        }
        if (parameters.StopTokenIds.Contains(token))
        {
            return new StopCheck(FinishReason.Stop, token, IsStopToken: true);
        }
        return OutputTokenCount >= parameters.MaxTokens || _tokens.Count >= maxModelLength ? new StopCheck(FinishReason.Length, null, IsStopToken: false) : null;
    }

    /// <summary>A stop string ended the output after its first <paramref name="outputTokens"/> tokens: the rest are dropped.</summary>
    internal void TruncateOutput(int outputTokens) =>
        _tokens.RemoveRange(Request.PromptTokens.Length + outputTokens, OutputTokenCount - outputTokens);
}

/// <summary>How a token ended a sequence: the reason, vLLM's stop_reason, and whether the token is a stop token (not shown as text).</summary>
internal sealed record StopCheck(FinishReason Reason, object? StopReason, bool IsStopToken);

/// <summary>A completed read of a sequence's prompt KV: bytes moved and how long the transfer took.</summary>
public sealed record KvTransferTiming(long Bytes, double Seconds);
