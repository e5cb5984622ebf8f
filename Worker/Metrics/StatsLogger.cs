using System.Globalization;
using Worker.Engine;

namespace Worker.Metrics;

/// <summary>
/// vLLM's periodic log line: every interval (VLLM_LOG_STATS_INTERVAL seconds, default 10) the prompt and
/// generation throughput since the last line, running and waiting requests, KV-cache usage and the prefix-cache
/// hit rate. Quiet while the engine is idle.
/// </summary>
public sealed partial class StatsLogger : IEngineStatsSink, IDisposable
{
    private readonly ILogger _logger;
    private readonly IEngineState _state;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private long _promptTokens, _generationTokens, _prefixQueries, _prefixHits, _preemptions;
    private long _lastLogged;

    public StatsLogger(ILogger<StatsLogger> logger, IEngineState state, TimeProvider time, TimeSpan interval)
    {
        _logger = logger;
        _state = state;
        _time = time;
        _lastLogged = time.GetTimestamp();
        _timer = time.CreateTimer(_ => Log(), null, interval, interval);
    }

    public static TimeSpan IntervalFromEnvironment() =>
        double.TryParse(Environment.GetEnvironmentVariable("VLLM_LOG_STATS_INTERVAL"), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(10);

    public void Record(StepStats stats)
    {
        lock (_lock)
        {
            _promptTokens += stats.PromptTokensComputed;
            _generationTokens += stats.GeneratedTokens;
            _prefixQueries += stats.PrefixQueries;
            _prefixHits += stats.PrefixHits;
            _preemptions += stats.Preemptions;
        }
    }

    /// <summary>Writes the line for the interval just ended (nothing when the engine did nothing and holds nothing).</summary>
    public void Log()
    {
        long prompt, generation, queries, hits, preemptions;
        double elapsed;
        lock (_lock)
        {
            (prompt, generation, queries, hits, preemptions) = (_promptTokens, _generationTokens, _prefixQueries, _prefixHits, _preemptions);
            _promptTokens = _generationTokens = _prefixQueries = _prefixHits = _preemptions = 0;
            var now = _time.GetTimestamp();
            elapsed = _time.GetElapsedTime(_lastLogged, now).TotalSeconds;
            _lastLogged = now;
        }
        var snapshot = _state.Snapshot;
        if (prompt + generation == 0 && (snapshot is null || snapshot.Running + snapshot.Waiting == 0))
        {
            return;
        }
        LogStats(_logger, prompt / elapsed, generation / elapsed, snapshot?.Running ?? 0, snapshot?.Waiting ?? 0,
            preemptions, (snapshot?.KvCacheUsage ?? 0) * 100, queries == 0 ? 0 : 100.0 * hits / queries);
    }

    [LoggerMessage(1, LogLevel.Information,
        "Engine 000: Avg prompt throughput: {PromptThroughput:F1} tokens/s, Avg generation throughput: {GenerationThroughput:F1} tokens/s, " +
        "Running: {Running} reqs, Waiting: {Waiting} reqs, Preemptions: {Preemptions}, KV cache usage: {KvCacheUsage:F1}%, Prefix cache hit rate: {PrefixHitRate:F1}%")]
    private static partial void LogStats(ILogger logger, double promptThroughput, double generationThroughput, int running, int waiting,
        long preemptions, double kvCacheUsage, double prefixHitRate);

    public void Dispose() => _timer.Dispose();
}
