using System.Diagnostics;

namespace Worker.Engine;

/// <summary>
/// What one engine step did, as plain data (vLLM's IterationStats): the engine fills it, stat sinks turn it into
/// metrics and log lines. Intervals are in seconds, from the engine's monotonic timestamps.
/// </summary>
/// <param name="IterationTokens">Tokens the step computed, vLLM's iteration tokens: prompt tokens not served from cache plus the tokens it sampled.</param>
/// <param name="PromptTokensComputed">Prompt tokens of sequences whose first token counted in this turn, less cached ones.</param>
/// <param name="Lora">The LoRA adapters running, waiting and resident after the step (vLLM's scheduler stats); null when LoRA is off.</param>
/// <param name="Generated">Output tokens that counted in this turn, per sequence (tokens waiting for a stop-string check count once checked).</param>
public sealed record StepStats(
    long Timestamp,
    int IterationTokens,
    int PromptTokensComputed,
    long PrefixQueries,
    long PrefixHits,
    int Preemptions,
    IReadOnlyList<GeneratedTokens> Generated,
    IReadOnlyList<FirstTokenStats> FirstTokens,
    IReadOnlyList<TokenLatency> InterTokenLatencies,
    IReadOnlyList<FinishedSequenceStats> Finished,
    IReadOnlyList<FinishedRequestStats> FinishedRequests,
    IReadOnlyList<ForwardPass> ForwardPasses,
    IReadOnlyList<KvBlockEvent> KvBlockEvents,
    IReadOnlyList<SpeculativeRoundStats> SpeculativeRounds,
    long ExternalPrefixQueries = 0,
    long ExternalPrefixHits = 0,
    KvConnectorStats? KvConnector = null,
    LoraAdapterStates? Lora = null)
{
    /// <summary>Output tokens that counted in this turn, all sequences together.</summary>
    public int GeneratedTokens => Generated.Sum(g => g.Count);

    /// <summary>Per constrained row of the step: the time its grammar took to mask its logits and follow its tokens.</summary>
    public IReadOnlyList<double> GrammarMaskSeconds { get; init; } = [];
}

/// <summary>The tokens one sequence gained in a step (several with speculative decoding).</summary>
public readonly record struct GeneratedTokens(string RequestId, Activity? Trace, int Count);

/// <summary>A sequence's first token: its prefill is complete.</summary>
/// <param name="TimeToFirstToken">Arrival (before tokenization) to the first token.</param>
/// <param name="Trace">The request's span, for exemplars that point at its trace.</param>
/// <param name="CachedPromptTokens">Prompt tokens not computed here: prefix-cache hits plus <paramref name="ExternalPromptTokens"/>.</param>
/// <param name="ExternalPromptTokens">Prompt tokens whose KV was read from a prefill worker.</param>
public sealed record FirstTokenStats(string RequestId, Activity? Trace, double TimeToFirstToken, int PromptTokens, int CachedPromptTokens, int ExternalPromptTokens = 0);

public sealed record TokenLatency(string RequestId, Activity? Trace, double Seconds);

/// <summary>A finished sequence (one of a request's n), as vLLM's FinishedRequestStats.</summary>
public sealed record FinishedSequenceStats(
    string RequestId,
    Activity? Trace,
    FinishReason Reason,
    double EndToEnd,
    double? Queue,
    double? Prefill,
    double? Decode,
    double? Inference,
    double TimePerOutputToken,
    int PromptTokens,
    int GenerationTokens,
    int CachedPromptTokens,
    int MaxTokens,
    int Preemptions,
    bool Corrupted);

/// <summary>One draft-then-verify round of one sequence: guesses proposed and accepted, and where the time went.</summary>
public sealed record SpeculativeRoundStats(string RequestId, Activity? Trace, int Proposed, int Accepted, double DraftSeconds, double VerifySeconds);

/// <summary>What the KV connector did in a step (vLLM's NIXL stats): reads completed on the decode side, failures, expired holds on the prefill side.</summary>
public sealed record KvConnectorStats(IReadOnlyList<KvTransferRead> Reads, int FailedTransfers, int FailedNotifications, int ExpiredRequests);

/// <summary>One completed read of a request's prompt KV: bytes, descriptors (contiguous regions), time to post it and its whole duration.</summary>
public sealed record KvTransferRead(string RequestId, Activity? Trace, long Bytes, int Descriptors, double PostSeconds, double TransferSeconds);

/// <summary>A request whose n sequences have all finished.</summary>
public sealed record FinishedRequestStats(string RequestId, Activity? Trace, int N, int MaxGenerationTokens);

/// <summary>One sequence's row in the step's batched forward pass: tokens fed, and the cache length after it.</summary>
public readonly record struct ForwardPass(int TokensFed, int ContextLength);

public enum KvBlockEventKind
{
    /// <summary>A sampled block left the cache: lifetime and idle time are known.</summary>
    Evicted,
    /// <summary>A sampled block was reused by a prefix hit: the gap since its last use is known.</summary>
    Reused,
}

/// <summary>A residency event of a sampled KV block (--kv-cache-metrics).</summary>
public readonly record struct KvBlockEvent(KvBlockEventKind Kind, double Lifetime, double Idle, double ReuseGap);

/// <summary>Takes the engine's stats after every step, on the engine thread: it must be quick.</summary>
public interface IEngineStatsSink
{
    void Record(StepStats stats);
}
