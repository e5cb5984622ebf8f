using Tests.Support;
using Worker.Engine;

namespace Tests.Engine;

/// <summary>
/// Batching changes how fast tokens come, never which: the same requests give the same tokens run alone and run
/// together at every batch size, through chunked prefill, preemption, prefix reuse and speculation.
/// </summary>
public class BatchingEquivalenceTests
{
    /// <summary>Prompts of different lengths; the last two are longer than the small step budgets below, so they are chunked.</summary>
    private static readonly string[] Prompts =
    [
        "A",
        "The river ran through the valley.",
        "Bread needs time. Mix the flour with water and salt, then wait while the dough rises in a warm place.",
        "To measure a system, start with the questions people ask of it, then count what answers them: requests, " +
        "tokens, the time each took, the memory each held, and what was refused and why, every minute of every day.",
        "Once upon a time in a quiet village by the sea there lived an old clerk who counted letters and numbers all day " +
        "long, and at night he wrote them down again in a great book that nobody read, until one winter a child came.",
    ];

    private static readonly (double Temperature, long? Seed)[] Samplings = [(0, null), (0.9, 7)];

    public static TheoryData<int, int?, int?, string?> Setups => new()
    {
        { 1, null, null, null },                                                    // alone, whole prompts
        { 2, 16, null, null },                                                      // chunked in 16-token pieces
        { 4, 24, null, null },
        { 8, 24, 32, null },                                                        // chunked, a 32-block cache: preemption
        { 8, 32, null, null },
        { 8, 64, null, """{"method":"ngram","num_speculative_tokens":3,"disable_by_batch_size":8}""" },
        { 8, 64, 32, """{"method":"draft_model","num_speculative_tokens":2,"disable_by_batch_size":8}""" },   // speculation through preemption
    };

    [Theory]
    [MemberData(nameof(Setups))]
    public async Task TheSameRequests_GiveTheSameTokens_AloneAndTogether(int maxNumSeqs, int? maxNumBatchedTokens, int? blocks, string? speculativeConfig)
    {
        var alone = await RunAsync(new EngineHarness(maxNumSeqs: 1, prefixCaching: false), concurrently: false);
        var rounds = new SpeculativeRounds();
        using var harness = new EngineHarness(maxNumSeqs: maxNumSeqs, blocks: blocks, maxNumBatchedTokens: maxNumBatchedTokens ?? 256,
            speculativeConfig: speculativeConfig, maxQueuedTokens: 1 << 20, maxQueuedRequests: 1 << 10, statsSinks: [rounds]);

        // Twice: the second round meets the first round's kept prefixes.
        for (var round = 0; round < 2; round++)
        {
            var together = await RunAsync(harness, concurrently: true, dispose: false);
            Assert.Equal(alone, together);
        }
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));
        WorkerApp.AssertHoldsNothing(idle);
        if (blocks is not null)
        {
            Assert.True(idle.Preemptions > 0, "the small cache was meant to force preemptions");
        }
        if (speculativeConfig is not null)
        {
            Assert.True(rounds.Count > 0, "no speculative round ran: the equivalence says nothing about speculation");
        }
    }

    private sealed class SpeculativeRounds : IEngineStatsSink
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public void Record(StepStats stats) => Interlocked.Add(ref _count, stats.SpeculativeRounds.Count);
    }

    private static async Task<List<string>> RunAsync(EngineHarness harness, bool concurrently, bool dispose = true)
    {
        try
        {
            var requests = Prompts.SelectMany(prompt => Samplings.Select(s => (prompt, s.Temperature, s.Seed))).ToArray();
            var results = new List<(int[] Tokens, FinishReason Finish)[]>();
            if (concurrently)
            {
                results.AddRange(await Task.WhenAll(requests.Select(r => harness.Submit(r.prompt, maxTokens: 40, n: 2, temperature: r.Temperature, seed: r.Seed).CompletionAsync())));
            }
            else
            {
                foreach (var r in requests)
                {
                    results.Add(await harness.Submit(r.prompt, maxTokens: 40, n: 2, temperature: r.Temperature, seed: r.Seed).CompletionAsync());
                }
            }
            // Unseeded sampling is not reproducible, so only greedy and seeded requests are compared, both samples each.
            return results.Select(r => string.Join(" | ", r.Select(s => string.Join(",", s.Tokens)))).ToList();
        }
        finally
        {
            if (dispose)
            {
                harness.Dispose();
            }
        }
    }
}

/// <summary>Prefix hits are tokens the runner really did not compute: what it was fed shows it.</summary>
public class PrefixHitAccountingTests
{
    [Fact]
    public async Task ARepeatedPrompt_FeedsTheRunnerOnlyWhatItsHitsDidNotCover()
    {
        var fed = new FedTokens();
        using var harness = new EngineHarness(statsSinks: [fed]);
        var prompt = harness.Encode("The river ran through the valley and past the old mill, where the miller counted sacks of flour every morning.");
        Assert.True(prompt.Length > 32);

        await harness.Submit(prompt, maxTokens: 10).CompletionAsync();
        await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));
        var (hitsBefore, fedBefore) = (harness.Engine.Snapshot.PrefixHits, fed.Total);
        var second = await harness.Submit(prompt, maxTokens: 10).CompletionAsync();
        await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));

        var hits = harness.Engine.Snapshot.PrefixHits - hitsBefore;
        Assert.Equal((prompt.Length - 1) / 16 * 16, hits);
        // The prompt less its hits, then each generated token but the last fed back once.
        Assert.Equal(prompt.Length - hits + second[0].Tokens.Length - 1, fed.Total - fedBefore);
    }

    [Fact]
    public async Task SeveralConcurrentRequests_ReuseOneKeptPrefix()
    {
        using var harness = new EngineHarness();
        var shared = harness.Encode("Memory is a budget. Every sequence holds blocks of cache, and the scheduler must choose who gets them next.");
        await harness.Submit(shared, maxTokens: 4).CompletionAsync();
        await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));
        var hitsBefore = harness.Engine.Snapshot.PrefixHits;

        var followUps = Enumerable.Range(0, 4).Select(i => shared.Concat(harness.Encode($" Then came question {i}.")).ToArray()).ToArray();
        // Long enough that none ends (and leaves a longer kept prefix) before the last is admitted.
        await Task.WhenAll(followUps.Select(p => harness.Submit(p, maxTokens: 40).CompletionAsync()));

        Assert.Equal(4 * (shared.Length / 16 * 16), harness.Engine.Snapshot.PrefixHits - hitsBefore);
    }

    /// <summary>
    /// On host memory the arena holds only the pages sequences wrote: at idle, exactly the kept prefixes' blocks (each
    /// head's rows rounded up to whole pages), and nothing at all once the prefixes are gone.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TheArenasResidentMemory_IsWhatTheBlockPoolCounts(bool prefixCaching)
    {
        using var harness = new EngineHarness(prefixCaching: prefixCaching);
        // Six identical greedy requests at once: six slots written, then (with prefix caching) one prefix kept of them.
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            harness.Submit("The engine is asked for a long answer about memory, blocks and pages.", maxTokens: 70).CompletionAsync()));
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));

        var arena = harness.Engine.Runner.Cache;
        var tokensPerPage = Environment.SystemPageSize / (arena.HeadSize * arena.ElementBytes);
        var headRanges = 2L * arena.Layers * arena.KvHeads;
        var keptTokens = idle.CachedBlocks * 16;
        Assert.Equal(0, idle.UsedBlocks);
        Assert.Equal(prefixCaching ? 1 : 0, idle.PrefixPoolEntries);
        Assert.Equal(prefixCaching, keptTokens > 0);
        Assert.Equal(headRanges * ((keptTokens + tokensPerPage - 1) / tokensPerPage) * Environment.SystemPageSize, arena.ResidentBytes());
    }

    private sealed class FedTokens : IEngineStatsSink
    {
        private long _total;

        public long Total => Interlocked.Read(ref _total);

        public void Record(StepStats stats) => Interlocked.Add(ref _total, stats.ForwardPasses.Sum(p => p.TokensFed));
    }
}
