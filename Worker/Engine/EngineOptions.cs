namespace Worker.Engine;

/// <summary>What the engine loop needs from the serving options, resolved against the loaded model.</summary>
public sealed record EngineOptions(int MaxNumSeqs, KvCacheConfig Cache, int? MaxNumQueuedRequests, long? MaxNumQueuedTokens);

/// <summary>The engine refused a request at the door; the API answers 503 with Retry-After.</summary>
public sealed class EngineOverloadedException(string reason, string message) : Exception(message)
{
    /// <summary>max_num_queued_requests or max_num_queued_tokens: which limit was hit.</summary>
    public string Reason { get; } = reason;
}
