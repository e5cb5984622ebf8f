using System.Collections.Concurrent;
using Tests.Support;
using Worker.Engine;

namespace Tests.Engine;

/// <summary>
/// Stop strings are the output processor's work, off the engine thread: a stop-string request's outputs flow without
/// waiting, the engine hears back once (where the text ended, or that its own finish stands), counts only the tokens
/// kept, and a request whose check is slow holds up nobody else.
/// </summary>
public class StopCheckTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AStopStringRequestsOutputs_FlowWithoutWaiting_HoldUpNoOtherRequest_AndCountOnceChecked()
    {
        var counted = new GeneratedTokenCounts();
        using var harness = new EngineHarness(statsSinks: [counted]);

        var watched = harness.Submit("The lighthouse keeper", maxTokens: 12, stop: ["never appears"]);
        var plain = harness.Submit("The ferry crossed", maxTokens: 6);
        await plain.CompletionAsync(Timeout);

        // Every token has reached the processor unasked; only the output that ends the sequence waits for its word.
        var outputs = await ReadAsync(watched, 12);
        Assert.Equal(12, outputs.Sum(o => o.Tokens.Length));
        Assert.Equal([.. Enumerable.Repeat(false, outputs.Count - 1), true], outputs.Select(o => o.AwaitsCheck));
        Assert.Equal(0, counted.Of(watched.Request.Id));
        Assert.Equal(6, counted.Of(plain.Request.Id));
        Assert.Equal(1, harness.Engine.Snapshot.ActiveRequests);

        harness.Engine.Checked(watched.Request.Sequences[0], keptTokens: 12, stopString: null);
        var final = await watched.Outputs.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(FinishReason.Length, final.Finish);
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, Timeout);
        Assert.Equal(12, counted.Of(watched.Request.Id));
        Assert.Equal(0, idle.UsedBlocks);
    }

    [Fact]
    public async Task AStopStringFoundByTheProcessor_EndsTheSequenceThere_AndOnlyTheKeptTokensCount()
    {
        var counted = new GeneratedTokenCounts();
        using var harness = new EngineHarness(statsSinks: [counted]);
        var watched = harness.Submit("Once upon a time", maxTokens: 40, stop: ["whatever"]);
        var sequence = watched.Request.Sequences[0];

        var outputs = await ReadAsync(watched, 3);
        var kept = outputs[0].Tokens.Length + 1; // the stop string ends in the second output's first token
        harness.Engine.Checked(sequence, kept, stopString: "whatever");
        var final = await ReadUntilFinishAsync(watched);

        Assert.Equal(FinishReason.Stop, final.Finish);
        Assert.Equal("whatever", final.StopReason);
        Assert.Equal([.. outputs[0].Tokens, outputs[1].Tokens[0]], sequence.OutputTokens);
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, Timeout);
        Assert.Equal(kept, counted.Of(watched.Request.Id));
        Assert.Equal(1, idle.Finished["stop"]);
        Assert.Equal(0, idle.UsedBlocks);
    }

    private static async Task<List<SequenceOutput>> ReadAsync(Submitted submitted, int tokens)
    {
        var outputs = new List<SequenceOutput>();
        while (outputs.Sum(o => o.Tokens.Length) < tokens)
        {
            outputs.Add(await submitted.Outputs.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken));
        }
        return outputs;
    }

    /// <summary>Skips what the engine computed before it learnt of the stop, up to the sequence's finish.</summary>
    private static async Task<SequenceOutput> ReadUntilFinishAsync(Submitted submitted)
    {
        while (true)
        {
            var output = await submitted.Outputs.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Timeout, TestContext.Current.CancellationToken);
            if (output.Finish is not null)
            {
                return output;
            }
        }
    }

    private sealed class GeneratedTokenCounts : IEngineStatsSink
    {
        private readonly ConcurrentDictionary<string, int> _counts = new();

        public int Of(string requestId) => _counts.GetValueOrDefault(requestId);

        public void Record(StepStats stats)
        {
            foreach (var generated in stats.Generated)
            {
                _counts.AddOrUpdate(generated.RequestId, generated.Count, (_, count) => count + generated.Count);
            }
        }
    }
}
