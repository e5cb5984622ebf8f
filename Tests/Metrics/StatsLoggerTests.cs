using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Worker.Engine;
using Worker.Metrics;

namespace Tests.Metrics;

public class StatsLoggerTests
{
    private sealed class State : IEngineState
    {
        public EngineSnapshot? Snapshot { get; set; }
        public SleepState SleepState => SleepState.Awake;
        public KvCacheConfig? CacheConfig => null;
        public long Rejections(string reason) => 0;
    }

    private static StepStats Step(int promptComputed, int generated, long queries, long hits) =>
        new(0, promptComputed + generated, promptComputed, queries, hits, 0, [new GeneratedTokens("r", null, generated)], [], [], [], [], [], [], []);

    private static EngineSnapshot Snapshot(int running, int waiting, int usedBlocks) =>
        new(running, waiting, running + waiting, running, 1, 100, usedBlocks, 0, 100 - usedBlocks, 0, 0, 0, 0,
            new Dictionary<string, long>(), new Dictionary<string, long>());

    [Fact]
    public void EveryInterval_LogsVllmsThroughputLine_FromWhatTheStepsDid()
    {
        var time = new FakeTimeProvider();
        var logger = new FakeLogger<StatsLogger>();
        var state = new State { Snapshot = Snapshot(running: 2, waiting: 1, usedBlocks: 25) };
        using var stats = new StatsLogger(logger, state, time, TimeSpan.FromSeconds(10));

        stats.Record(Step(promptComputed: 300, generated: 40, queries: 400, hits: 100));
        stats.Record(Step(promptComputed: 0, generated: 60, queries: 0, hits: 0));
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(
            "Engine 000: Avg prompt throughput: 30.0 tokens/s, Avg generation throughput: 10.0 tokens/s, Running: 2 reqs, Waiting: 1 reqs, " +
            "Preemptions: 0, KV cache usage: 25.0%, Prefix cache hit rate: 25.0%",
            logger.LatestRecord.Message);
    }

    [Fact]
    public void AnIdleEngine_LogsNothing()
    {
        var time = new FakeTimeProvider();
        var logger = new FakeLogger<StatsLogger>();
        using var stats = new StatsLogger(logger, new State { Snapshot = Snapshot(0, 0, 0) }, time, TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(0, logger.Collector.Count);
    }
}
