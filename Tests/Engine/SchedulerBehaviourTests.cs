using Tests.Support;
using Worker.Engine;
using Worker.Runner;

namespace Tests.Engine;

/// <summary>The scheduler under memory pressure, prefix reuse and aborts, on the real tiny model.</summary>
public class SchedulerBehaviourTests
{
    private const string LongPreamble = "Read this, then carry on in the same voice, plainly and without hurry: ";

    private static readonly string[] Prompts =
    [
        "The cat sat by the window and watched the rain.",
        "A good server answers every request.",
        "Bread needs time. Mix the flour with water and salt,",
        "The river ran through the valley and past the old mill.",
        "To measure a system, start with the questions people ask.",
        "She opened the letter and read it twice.",
    ];

    private static async Task<int[][]> RunAloneAsync(IEnumerable<int[]> prompts, int maxTokens)
    {
        using var alone = new EngineHarness(maxNumSeqs: 1, prefixCaching: false);
        var outputs = new List<int[]>();
        foreach (var prompt in prompts)
        {
            outputs.Add((await alone.Submit(prompt, maxTokens).CompletionAsync())[0].Tokens);
        }
        return outputs.ToArray();
    }

    [Fact]
    public async Task TinyKvBudget_PreemptsAndRecomputes_GreedyOutputIsWhatItIsAlone()
    {
        using var harness = new EngineHarness(maxNumSeqs: 8, blocks: 32, prefixCaching: false);
        var prompts = Prompts.Select(harness.Encode).ToArray();
        var expected = await RunAloneAsync(prompts, maxTokens: 100);

        var submitted = prompts.Select(p => harness.Submit(p, maxTokens: 100)).ToArray();
        var results = await Task.WhenAll(submitted.Select(s => s.CompletionAsync()));

        Assert.True(harness.Engine.Snapshot.Preemptions > 0, "the budget was meant to force preemptions");
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], results[i][0].Tokens);
            Assert.Equal(FinishReason.Length, results[i][0].Finish);
        }
        Assert.Contains(submitted, s => s.Request.Sequences[0].Timeline.Preemptions.Count > 0);
    }

    [Fact]
    public async Task PrefixReuse_CopiesTheKeptCache_AndGreedyOutputIsWhatItIsAlone()
    {
        using var harness = new EngineHarness();
        var first = harness.Encode("The ship left the harbour at dawn. Gulls followed it for a while,");
        var firstOutput = (await harness.Submit(first, maxTokens: 20).CompletionAsync())[0].Tokens;
        var followUp = first.Concat(firstOutput).Concat(harness.Encode(" then the captain looked at the sky")).ToArray();
        var hitsBefore = harness.Engine.Snapshot.PrefixHits;

        var reused = await harness.Submit(followUp, maxTokens: 30).CompletionAsync();

        // The kept cache holds the prompt and all but the last sampled token (never fed back), in whole blocks.
        Assert.Equal((first.Length + firstOutput.Length - 1) / 16 * 16, harness.Engine.Snapshot.PrefixHits - hitsBefore);
        Assert.Equal((await RunAloneAsync([followUp], maxTokens: 30))[0], reused[0].Tokens);
    }

    [Fact]
    public async Task PrefixReuse_SharedPrefixThenDivergence_RewindsToTheCommonPart()
    {
        using var harness = new EngineHarness();
        var shared = harness.Encode("Memory is a budget. Every sequence holds blocks of cache");
        await harness.Submit(shared.Concat(harness.Encode(" for the tokens it has seen.")).ToArray(), maxTokens: 5).CompletionAsync();
        var other = shared.Concat(harness.Encode(" and the scheduler must choose.")).ToArray();
        var hitsBefore = harness.Engine.Snapshot.PrefixHits;

        var output = await harness.Submit(other, maxTokens: 25).CompletionAsync();

        Assert.Equal(shared.Length / 16 * 16, harness.Engine.Snapshot.PrefixHits - hitsBefore);
        Assert.Equal((await RunAloneAsync([other], maxTokens: 25))[0], output[0].Tokens);
    }

    [Fact]
    public async Task MixedWorkload_AfterwardsEveryBlockIsFreeOrCached_AndTheCountsAddUp()
    {
        using var harness = new EngineHarness(maxNumSeqs: 8, blocks: 32, maxQueuedTokens: 4096);
        var submitted = new List<Submitted>();
        for (var i = 0; i < 12; i++)
        {
            // Repeated prompts hit the prefix pool (longer than a block); n = 2 doubles the sequences; the budget forces preemption.
            submitted.Add(harness.Submit(LongPreamble + Prompts[i % 4], maxTokens: 60 + 10 * (i % 3), n: 1 + i % 2, temperature: 0.8, seed: i));
        }
        harness.Engine.Abort(submitted[11].Request);                        // most likely still waiting
        await harness.WaitForAsync(s => s.Steps > 5, TimeSpan.FromSeconds(30));
        harness.Engine.Abort(submitted[0].Request);                         // most likely running
        harness.Engine.Abort(submitted[5].Request);

        var results = await Task.WhenAll(submitted.Select(s => s.CompletionAsync()));
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));

        WorkerApp.AssertHoldsNothing(idle);
        var sequences = results.SelectMany(r => r).ToArray();
        Assert.Equal(sequences.Length, idle.Finished.Values.Sum());
        Assert.Equal(sequences.Count(s => s.Finish == FinishReason.Abort), idle.Finished["abort"]);
        Assert.Equal(sequences.Count(s => s.Finish == FinishReason.Length), idle.Finished["length"]);
        Assert.All(sequences.Where(s => s.Finish == FinishReason.Length), s => Assert.InRange(s.Tokens.Length, 60, 80));
        Assert.True(idle.PrefixHits > 0 && idle.PrefixHits <= idle.PrefixQueries);
        Assert.True(idle.Preemptions > 0);
    }

    [Fact]
    public async Task TinyKvBudget_QueuesWhatDoesNotFit_NothingDeadlocks_EveryRequestEnds()
    {
        using var harness = new EngineHarness(maxNumSeqs: 16, blocks: 32);
        var submitted = Enumerable.Range(0, 20).Select(i => harness.Submit(Prompts[i % Prompts.Length] + " " + i, maxTokens: 150)).ToArray();

        var peakWaiting = 0;
        var all = Task.WhenAll(submitted.Select(s => s.CompletionAsync(TimeSpan.FromSeconds(120))));
        while (!all.IsCompleted)
        {
            peakWaiting = Math.Max(peakWaiting, harness.Engine.Snapshot.Waiting);
            await Task.Delay(1, TestContext.Current.CancellationToken);
        }
        var results = await all;

        Assert.All(results, r => Assert.Equal(FinishReason.Length, r[0].Finish));
        Assert.True(peakWaiting > 0, "the budget was meant to keep requests waiting");
        Assert.True(harness.Engine.Snapshot.Preemptions > 0);
        WorkerApp.AssertHoldsNothing(await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Abort_OfARunningRequest_ReturnsItsBlocksWithinOneStep()
    {
        using var harness = new EngineHarness(maxNumSeqs: 4, prefixCaching: false);
        var running = harness.Submit(Prompts[0], maxTokens: 480, n: 4);
        await harness.WaitForAsync(s => s.Running == 4 && s.UsedBlocks > 0, TimeSpan.FromSeconds(10));

        var stepsAtAbort = harness.Engine.StepsRun; // not the published snapshot's, which may trail the loop
        harness.Engine.Abort(running.Request);
        var freed = await harness.WaitForAsync(s => s.UsedBlocks == 0, TimeSpan.FromSeconds(10));

        // The engine may be inside a step when the abort arrives: it is taken before the next one, which runs without it.
        Assert.True(freed.Steps <= stepsAtAbort + 2, $"blocks came back {freed.Steps - stepsAtAbort} steps after the abort");
        Assert.Equal(0, freed.SlotsInUse);
        Assert.All(await running.CompletionAsync(), r => Assert.Equal(FinishReason.Abort, r.Finish));
    }

    [Fact]
    public async Task QueueLimit_RefusesRequestsBeyondIt_AndCountsTheRefusal()
    {
        using var harness = new EngineHarness(maxNumSeqs: 1, maxQueuedRequests: 1);
        var running = harness.Submit(Prompts[0], maxTokens: 480);
        await harness.WaitForAsync(s => s.Running == 1, TimeSpan.FromSeconds(10));
        var queued = harness.Submit(Prompts[1], maxTokens: 4);

        var refused = Assert.Throws<EngineOverloadedException>(() => harness.Submit(Prompts[2], maxTokens: 4));

        Assert.Equal("max_num_queued_reqs", refused.Reason);
        await running.CompletionAsync();
        await queued.CompletionAsync();
        Assert.Equal(1, harness.Engine.Snapshot.Rejected["max_num_queued_reqs"]);
        harness.Submit(Prompts[2], maxTokens: 4);   // room again once the queue drained
    }

    [Fact]
    public async Task QueuedTokenLimit_CountsPromptTokensTimesN()
    {
        using var harness = new EngineHarness(maxNumSeqs: 1, maxQueuedTokens: 40);
        var prompt = harness.Encode(Prompts[0]);   // 11 tokens
        var running = harness.Submit(prompt, maxTokens: 480);
        await harness.WaitForAsync(s => s.Running == 1, TimeSpan.FromSeconds(10));
        harness.Submit(prompt, maxTokens: 4, n: 2);   // 22 queued tokens

        var refused = Assert.Throws<EngineOverloadedException>(() => harness.Submit(prompt, maxTokens: 4, n: 2));
        Assert.Equal("max_num_queued_tokens", refused.Reason);
        harness.Engine.Abort(running.Request);
    }

    /// <summary>An abort can reach the engine before the submission it aborts (a deadline already passed, a client gone at once).</summary>
    [Fact]
    public async Task AnAbortTakenBeforeItsSubmission_StillEndsTheRequest_WhichNeverRuns()
    {
        using var harness = new EngineHarness();
        var outputs = System.Threading.Channels.Channel.CreateUnbounded<SequenceOutput>();
        var request = new EngineRequest("abort-first", harness.Encode("The lamp was lit"), new SamplingParams { MaxTokens = 50, IgnoreEos = true },
            RequestArrival.Now(), outputs.Writer, firstChoice: 0);

        harness.Engine.Abort(request);
        // A pause is applied in a turn that has taken every command queued before it: the abort is taken alone first.
        await harness.Engine.PauseAsync(PauseMode.Keep, clearCache: false);
        harness.Engine.Submit(request);
        harness.Engine.Resume();
        var output = await outputs.Reader.ReadAsync(TestContext.Current.CancellationToken);

        Assert.Equal(FinishReason.Abort, output.Finish);
        Assert.Empty(request.Sequences[0].OutputTokens);
        Assert.Equal(1, (await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(5))).Finished["abort"]);
    }
}
