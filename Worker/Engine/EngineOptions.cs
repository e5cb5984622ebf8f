namespace Worker.Engine;

/// <summary>What the engine loop needs from the serving options, resolved against the loaded model.</summary>
/// <param name="KvBlockSampleRate">--kv-cache-metrics: the fraction of KV blocks whose residency is followed; 0 for none.</param>
/// <param name="CheckLogitsForNaN">VLLM_COMPUTE_NANS_IN_LOGITS: note sequences whose logits contain NaN.</param>
public sealed record EngineOptions(
    int MaxNumSeqs,
    KvCacheConfig Cache,
    int? MaxNumQueuedRequests,
    long? MaxNumQueuedTokens,
    double KvBlockSampleRate = 0,
    bool CheckLogitsForNaN = false,
    SpeculativeDecoding? Speculation = null);

/// <summary>Speculative decoding as the engine runs it: who proposes, and how many tokens per round at most.</summary>
public sealed record SpeculativeDecoding(Speculation.IDraftProposer Proposer, int NumSpeculativeTokens);

/// <summary>The engine refused a request at the door; the API answers 503 with Retry-After.</summary>
public sealed class EngineOverloadedException(string reason, string message) : Exception(message)
{
    /// <summary>max_num_queued_requests or max_num_queued_tokens: which limit was hit.</summary>
    public string Reason { get; } = reason;
}
