using System.Collections.Concurrent;
using System.Threading.Channels;
using Tests.Support;
using Worker.Engine;

namespace Tests.Engine;

/// <summary>
/// A step's stats are recorded before its outputs reach the requests: a client that has its response finds it in
/// the metrics, and the exemplars are taken while the request's span is still open. Recording happens off the engine
/// thread, which only plans, runs and queues.
/// </summary>
public class OutputOrderTests
{
    [Fact]
    public async Task AStepsStats_AreRecordedBeforeItsOutputsReachTheRequest()
    {
        var sink = new DeliveredOutputsAtRecord();
        using var harness = new EngineHarness(statsSinks: [sink]);
        sink.OutputsOf = harness.OutputsOf;

        var submitted = Enumerable.Range(0, 4).Select(i => harness.Submit($"The river ran past mill {i}", maxTokens: 6)).ToArray();
        await harness.WaitForAsync(s => s.ActiveRequests == 0 && s.Finished["length"] == submitted.Length, TimeSpan.FromSeconds(30));

        foreach (var request in submitted)
        {
            var id = request.Request.Id;
            Assert.Equal(0, sink.DeliveredAtFirstToken[id]);
            // Every output but the final one had reached the request when its finish was recorded.
            Assert.Equal(request.Outputs.Count - 1, sink.DeliveredAtFinish[id]);
        }
    }

    [Fact]
    public async Task StatsAreRecorded_OffTheEngineThread()
    {
        var sink = new RecordingThreads();
        using var harness = new EngineHarness(statsSinks: [sink]);

        await harness.Submit("The mill wheel turned", maxTokens: 4).CompletionAsync();

        Assert.NotEmpty(sink.Threads);
        Assert.DoesNotContain("engine-loop", sink.Threads);
    }

    private sealed class RecordingThreads : IEngineStatsSink
    {
        public ConcurrentBag<string?> Threads { get; } = [];

        public void Record(StepStats stats) => Threads.Add(Thread.CurrentThread.Name);
    }

    private sealed class DeliveredOutputsAtRecord : IEngineStatsSink
    {
        public Func<string, ChannelReader<SequenceOutput>> OutputsOf { get; set; } = _ => throw new InvalidOperationException();

        public ConcurrentDictionary<string, int> DeliveredAtFirstToken { get; } = new();

        public ConcurrentDictionary<string, int> DeliveredAtFinish { get; } = new();

        public void Record(StepStats stats)
        {
            foreach (var first in stats.FirstTokens)
            {
                DeliveredAtFirstToken[first.RequestId] = OutputsOf(first.RequestId).Count;
            }
            foreach (var finished in stats.Finished)
            {
                DeliveredAtFinish[finished.RequestId] = OutputsOf(finished.RequestId).Count;
            }
        }
    }
}
