using Tests.Support;
using Worker.Engine;

namespace Tests.Engine;

/// <summary>
/// The waiting queue's depth in tokens (vellum_num_tokens_waiting, vellum_num_uncached_tokens_waiting): what a router
/// weighs beside the request count, kept as sequences enter and leave the queue, so it is exact and returns to zero.
/// </summary>
public class WaitingTokenDepthTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task QueuedPrompts_CountTheirTokensTimesN_AnAbortTakesExactlyItsShare_AndAdmissionEmptiesIt()
    {
        using var harness = new EngineHarness(prefixCaching: false);
        await harness.Engine.PauseAsync(PauseMode.Keep, clearCache: false);
        var first = harness.Encode("The harbour at dawn was full of boats");
        var second = harness.Encode("A short one");
        var third = harness.Encode("Three lanterns hung over the door of the inn");

        var a = harness.Submit(first, maxTokens: 4);
        var b = harness.Submit(second, maxTokens: 4, n: 2);
        var c = harness.Submit(third, maxTokens: 4);
        var queued = await harness.WaitForAsync(s => s.Waiting == 4, Timeout);

        var expected = first.Length + 2 * second.Length + third.Length;
        Assert.Equal(expected, queued.WaitingTokens);
        Assert.Equal(expected, queued.WaitingUncachedTokens); // no prefix cache: every token is to compute

        harness.Engine.Abort(b.Request);
        var afterAbort = await harness.WaitForAsync(s => s.Waiting == 2, Timeout);
        Assert.Equal(first.Length + third.Length, afterAbort.WaitingTokens);
        Assert.Equal(first.Length + third.Length, afterAbort.WaitingUncachedTokens);

        harness.Engine.Resume();
        await a.CompletionAsync();
        await c.CompletionAsync();
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, Timeout);
        Assert.Equal((0L, 0L), (idle.WaitingTokens, idle.WaitingUncachedTokens));
    }

    [Fact]
    public async Task APromptWhosePrefixIsCached_CountsOnlyWhatItsPrefillMustCompute_AsUncached()
    {
        using var harness = new EngineHarness(blockSize: 4);
        var shared = "Once upon a time in a small village by the sea there lived an old fisherman";
        await harness.Submit(shared, maxTokens: 2).CompletionAsync();
        await harness.WaitForAsync(s => s.PrefixPoolEntries > 0, Timeout);

        await harness.Engine.PauseAsync(PauseMode.Keep, clearCache: false);
        var prompt = harness.Encode(shared + " and his dog");
        var waiting = harness.Submit(prompt, maxTokens: 2);
        var queued = await harness.WaitForAsync(s => s.Waiting == 1, Timeout);

        Assert.Equal(prompt.Length, queued.WaitingTokens);
        var cached = queued.WaitingTokens - queued.WaitingUncachedTokens;
        Assert.True(cached > 0, $"the cached prefix was not counted: {queued}");
        Assert.Equal(0, cached % 4); // whole blocks, as the prefix cache reuses them
        harness.Engine.Resume();
        await waiting.CompletionAsync();
    }

    [Fact]
    public async Task Preemptions_PutSequencesBackWithTheirOutputSoFar_AndTheDepthStillReturnsToZero()
    {
        // Too few blocks for eight long sequences at once: the scheduler preempts and recomputes.
        using var harness = new EngineHarness(maxNumSeqs: 8, blocks: 32, prefixCaching: false);
        var requests = Enumerable.Range(0, 8).Select(i => harness.Submit($"Request number {i} tells a long story", maxTokens: 100)).ToArray();
        foreach (var request in requests)
        {
            await request.CompletionAsync();
        }

        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, Timeout);
        Assert.True(idle.Preemptions > 0, "the budget did not force a preemption; the test proves nothing");
        Assert.Equal((0L, 0L), (idle.WaitingTokens, idle.WaitingUncachedTokens));
    }
}
