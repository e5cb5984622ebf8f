using Tests.Support;
using Worker.Engine;

namespace Tests.Speculation;

/// <summary>Speculative decoding changes how fast tokens come, never which tokens come.</summary>
public class SpeculativeDecodingTests
{
    private static readonly string[] Prompts =
    [
        "The cat sat by the window and watched the rain.",
        "A good server answers every request.",
        "user: What is the capital of France?\nassistant:",
        "The river ran through the valley and past the old mill.",
        "When two models agree, the fast one can guess and the slow one can check.",
        "Numbers tell a story when they are read together: 12 requests, 340 tokens,",
        "The ship left the harbour at dawn.",
        "Bread needs time. Mix the flour with water and salt,",
    ];

    private static async Task<(int[][] Outputs, EngineRequest[] Requests)> RunAsync(string? speculativeConfig, double temperature, int maxTokens = 80)
    {
        using var harness = new EngineHarness(maxNumSeqs: 4, speculativeConfig: speculativeConfig);
        var submitted = Prompts.Select((prompt, i) => harness.Submit(prompt, maxTokens, temperature: temperature, seed: 100 + i)).ToArray();
        var results = await Task.WhenAll(submitted.Select(s => s.CompletionAsync()));
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));
        WorkerApp.AssertHoldsNothing(idle);
        return (results.Select(r => r[0].Tokens).ToArray(), submitted.Select(s => s.Request).ToArray());
    }

    /// <summary>Every config lets all four running sequences speculate (disable_by_batch_size 8): verification is batched into the step.</summary>
    public static TheoryData<string> Configs => new()
    {
        """{"method": "draft_model", "num_speculative_tokens": 1, "disable_by_batch_size": 8}""",
        """{"method": "draft_model", "num_speculative_tokens": 2, "disable_by_batch_size": 8}""",
        """{"method": "draft_model", "num_speculative_tokens": 4, "disable_by_batch_size": 8}""",
        """{"method": "draft_model", "num_speculative_tokens": 7, "disable_by_batch_size": 8}""",
        """{"method": "ngram", "num_speculative_tokens": 2, "prompt_lookup_max": 3, "prompt_lookup_min": 1, "disable_by_batch_size": 8}""",
        """{"method": "ngram", "num_speculative_tokens": 5, "prompt_lookup_max": 4, "prompt_lookup_min": 2, "disable_by_batch_size": 8}""",
        """{"method": "draft_model", "num_speculative_tokens": 8, "min_adaptive_k": 1, "disable_by_batch_size": 8}""",
    };

    [Fact]
    public async Task DisableByBatchSize_StopsGuessingWhileMoreSequencesRun_AndGuessesAgainAlone()
    {
        using var harness = new EngineHarness(maxNumSeqs: 4, speculativeConfig: """{"method": "draft_model", "num_speculative_tokens": 3, "disable_by_batch_size": 1}""");
        // n = 4: four sequences queued at once, admitted in one step, of one length: they run side by side throughout.
        var together = harness.Submit(Prompts[0], maxTokens: 24, n: 4, temperature: 0.8, seed: 1);
        await together.CompletionAsync();
        var alone = harness.Submit(Prompts[4], maxTokens: 24);
        await alone.CompletionAsync();

        Assert.All(together.Request.Sequences, s => Assert.Equal(0, s.Speculation.Rounds));
        Assert.True(alone.Request.Sequences[0].Speculation.Rounds > 0);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public async Task GreedyOutput_IsTokenIdenticalWithAndWithoutSpeculation(string config)
    {
        var (plain, _) = await RunAsync(null, temperature: 0);
        var (speculative, requests) = await RunAsync(config, temperature: 0);

        Assert.Equal(plain, speculative);
        var tally = requests.Select(r => r.Sequences[0].Speculation).ToArray();
        Assert.True(tally.Sum(t => t.Rounds) > 0, "no speculative round ran");
        Assert.True(tally.Sum(t => t.AcceptedTokens) > 0, "no guess was ever accepted");
    }

    [Theory]
    [InlineData("""{"method": "draft_model", "num_speculative_tokens": 4, "disable_by_batch_size": 8}""")]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": 3, "disable_by_batch_size": 8}""")]
    public async Task SeededSampling_IsReproducibleAndIdenticalWithSpeculation(string config)
    {
        var (plain, _) = await RunAsync(null, temperature: 0.8);
        var (speculative, requests) = await RunAsync(config, temperature: 0.8);
        var (again, _) = await RunAsync(config, temperature: 0.8);

        Assert.Equal(plain, speculative);
        Assert.Equal(speculative, again);
        Assert.True(requests.Sum(r => r.Sequences[0].Speculation.Rounds) > 0, "no speculative round ran");
    }

    [Fact]
    public async Task AdaptiveK_MovesEachSequencesGuessCountWithItsAcceptance()
    {
        var (_, requests) = await RunAsync("""{"method": "draft_model", "num_speculative_tokens": 8, "min_adaptive_k": 2, "disable_by_batch_size": 8}""", temperature: 0);

        var tallies = requests.Select(r => r.Sequences[0].Speculation).ToArray();
        // With K fixed every round (but those cut short by max_tokens) would propose 8.
        Assert.True(tallies.Sum(t => t.DraftTokens) < 8 * tallies.Sum(t => t.Rounds) - 8 * tallies.Length);
        Assert.True(tallies.Sum(t => t.DraftTokens) >= 2 * tallies.Sum(t => t.Rounds) - tallies.Length);
    }

    [Theory]
    [InlineData(4, 4, 4, 5)]   // every guess accepted: one more
    [InlineData(8, 8, 8, 8)]   // but never above num_speculative_tokens
    [InlineData(4, 4, 1, 3)]   // fewer than half accepted: one fewer
    [InlineData(2, 2, 0, 2)]   // but never below min_adaptive_k
    [InlineData(4, 4, 2, 4)]   // half: unchanged
    public void NextK_FollowsAcceptance(int current, int proposed, int accepted, int next) =>
        Assert.Equal(next, new SpeculativeDecoding(null!, NumSpeculativeTokens: 8, MinAdaptiveK: 2).NextK(current, proposed, accepted));

    [Fact]
    public async Task EveryRound_CountsPositionsUpToItsAcceptance()
    {
        var (_, requests) = await RunAsync("""{"method": "draft_model", "num_speculative_tokens": 4, "disable_by_batch_size": 8}""", temperature: 0);

        var tallies = requests.Select(r => r.Sequences[0].Speculation).ToArray();
        Assert.True(tallies.Sum(t => t.Rounds) > 0 && tallies.Sum(t => t.AcceptedTokens) > 0, "no round ran, or none accepted a guess");
        foreach (var tally in tallies)
        {
            Assert.True(tally.AcceptedTokens <= tally.DraftTokens);
            Assert.Equal(tally.AcceptedTokens, tally.AcceptedAtPosition.Sum());
            Assert.True(tally.AcceptedAtPosition.Count <= 4);
            for (var position = 1; position < tally.AcceptedAtPosition.Count; position++)
            {
                Assert.True(tally.AcceptedAtPosition[position] <= tally.AcceptedAtPosition[position - 1]);
            }
            Assert.True(tally.AcceptedAtPosition.Count == 0 || tally.AcceptedAtPosition[0] <= tally.Rounds);
        }
    }
}
