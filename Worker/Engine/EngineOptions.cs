namespace Worker.Engine;

/// <summary>What the engine loop needs from the serving options, resolved against the loaded model.</summary>
/// <param name="KvBlockSampleRate">--kv-cache-metrics: the fraction of KV blocks whose residency is followed; 0 for none.</param>
/// <param name="CheckLogitsForNaN">VLLM_COMPUTE_NANS_IN_LOGITS: note sequences whose logits contain NaN.</param>
/// <param name="MaxNumQueuedRequests">Queued sequences (prompt × n) past which a request is refused; null: no limit.</param>
/// <param name="MaxNumQueuedTokens">Queued prompt tokens (× n) past which a request is refused; null: no limit.</param>
/// <param name="MaxLoras">--max-loras with --enable-lora: adapters resident at once; null when LoRA is off.</param>
/// <param name="KvConnector">--kv-transfer-config: the connector that holds prefills for, or reads prompts' KV from, other workers.</param>
public sealed record EngineOptions(
    SchedulerLimits Limits,
    KvCacheConfig Cache,
    int? MaxNumQueuedRequests,
    long? MaxNumQueuedTokens,
    double KvBlockSampleRate = 0,
    bool CheckLogitsForNaN = false,
    SpeculativeDecoding? Speculation = null,
    KvTransfer.KvConnector? KvConnector = null,
    int? MaxLoras = null)
{
    /// <summary>
    /// The queue's default depth: every queued sequence will need at least one block, so more than the cache has
    /// blocks cannot all be admitted even when it is empty; and 64 steps' worth of --max-num-seqs keeps what the queue
    /// itself holds (about 1 KB a sequence besides its prompt) small beside a large cache.
    /// </summary>
    public static int DefaultMaxQueuedSequences(KvCacheConfig cache, int maxNumSeqs) => Math.Min(cache.TotalBlocks, 64 * maxNumSeqs);

    /// <summary>The queue's default prompt-token budget: as many tokens as the KV cache holds (4 bytes each while queued).</summary>
    public static long DefaultMaxQueuedTokens(KvCacheConfig cache) => (long)cache.TotalBlocks * cache.BlockSize;
}

/// <summary>
/// Speculative decoding as the engine runs it: who proposes, how many tokens per round at most, and with adaptive K
/// the fewest: a sequence whose round accepted every guess tries one more next time, one that accepted fewer than
/// half tries one fewer. K only decides how much is guessed, never what is emitted. No sequence guesses in a step
/// where more than <paramref name="DisableByBatchSize"/> sequences run (vLLM's disable_by_batch_size).
/// </summary>
/// <param name="DisableByBatchSize">
/// Null: speculate at every batch size. On CPU the engine defaults it to <see cref="CpuDisableByBatchSize"/>: ONNX
/// Runtime's GroupQueryAttention verifies a sequence's guesses only in a pass of its own, so with many sequences
/// running, one batched decode pass yields more tokens than their verification passes (bench/speculation-figures.sh).
/// </param>
public sealed record SpeculativeDecoding(Speculation.IDraftProposer Proposer, int NumSpeculativeTokens, int? MinAdaptiveK = null,
    int? DisableByBatchSize = null)
{
    public const int CpuDisableByBatchSize = 2;

    public int NextK(int current, int proposed, int accepted) => MinAdaptiveK is not { } least || proposed == 0
        ? current
        : accepted == proposed ? Math.Min(current + 1, NumSpeculativeTokens)
        : accepted * 2 < proposed ? Math.Max(current - 1, least)
        : current;
}

/// <summary>The engine refused a request at the door; the API answers 503 with Retry-After.</summary>
public sealed class EngineOverloadedException(string reason, string message) : Exception(message)
{
    /// <summary>max_num_queued_reqs or max_num_queued_tokens (vLLM's reason values): which limit was hit.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The engine was stopped (sleep mode, shutdown) before it could take the request.</summary>
public sealed class EngineStoppedException(EngineError why) : Exception(why.Message)
{
    public EngineError Why { get; } = why;
}
