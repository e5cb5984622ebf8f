using Worker.Engine;

namespace Worker.Metrics;

/// <summary>What the gauges read at scrape time: the latest engine counts, the sleep state, the cache configuration.</summary>
public interface IEngineState
{
    /// <summary>The latest counts, or null while no engine runs (loading, asleep).</summary>
    EngineSnapshot? Snapshot { get; }

    SleepState SleepState { get; }

    /// <summary>The KV-cache configuration, once the first engine has started.</summary>
    KvCacheConfig? CacheConfig { get; }

    /// <summary>Requests refused at admission for <paramref name="reason"/>, over the worker's lifetime.</summary>
    long Rejections(string reason);
}

public enum SleepState
{
    Awake,
    /// <summary>Sleep level 1: the model is unloaded, its weights kept in memory for a fast wake-up.</summary>
    WeightsOffloaded,
    /// <summary>Sleep level 2: everything is discarded; waking reloads from disk.</summary>
    DiscardAll,
}
