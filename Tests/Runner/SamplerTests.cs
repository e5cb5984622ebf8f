using Worker.Runner;
using Worker.Engine;

namespace Tests.Runner;

public class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.0f, 0.5f];

    [Fact]
    public void Sample_TemperatureZero_TakesTheLargestLogit() =>
        Assert.Equal(1, Sampler.Sample(Logits, new SamplingParams { MaxTokens = 1, Temperature = 0 }, new Random(1)));

    [Fact]
    public void Sample_TopKOne_IsGreedyEvenWithTemperature() =>
        Assert.Equal(1, Sampler.Sample(Logits, new SamplingParams { MaxTokens = 1, Temperature = 1.5, TopK = 1 }, new Random(1)));

    [Fact]
    public void Sample_TopKTwo_OnlyDrawsTheTwoBest()
    {
        var parameters = new SamplingParams { MaxTokens = 1, Temperature = 2.0, TopK = 2 };
        var random = new Random(5);
        var drawn = Enumerable.Range(0, 500).Select(_ => Sampler.Sample(Logits, parameters, random)).ToHashSet();
        Assert.Equal([1, 2], drawn.Order());
    }

    [Fact]
    public void Sample_TopP_KeepsTheSmallestSetReachingTheMass()
    {
        // Probabilities at temperature 1: 0.63, 0.23, 0.09, 0.05 → top_p 0.8 keeps tokens 1 and 2.
        var parameters = new SamplingParams { MaxTokens = 1, Temperature = 1.0, TopP = 0.8 };
        var random = new Random(9);
        var drawn = Enumerable.Range(0, 500).Select(_ => Sampler.Sample(Logits, parameters, random)).ToHashSet();
        Assert.Equal([1, 2], drawn.Order());
    }

    [Fact]
    public void Sample_FollowsTheSoftmaxDistribution()
    {
        var parameters = new SamplingParams { MaxTokens = 1, Temperature = 1.0 };
        var random = new Random(3);
        var counts = new int[4];
        for (var i = 0; i < 20_000; i++)
        {
            counts[Sampler.Sample(Logits, parameters, random)]++;
        }
        var total = Logits.Sum(l => Math.Exp(l));
        for (var token = 0; token < 4; token++)
        {
            Assert.InRange(counts[token] / 20_000.0, Math.Exp(Logits[token]) / total - 0.02, Math.Exp(Logits[token]) / total + 0.02);
        }
    }

    /// <summary>
    /// Visiting candidates best first without sorting draws what sorting the whole vocabulary draws: the same token for
    /// the same random draw, with and without top-k and top-p.
    /// </summary>
    [Fact]
    public void Sample_DrawsTheTokenSortingTheVocabularyWould()
    {
        var random = new Random(11);
        for (var trial = 0; trial < 3000; trial++)
        {
            var logits = Enumerable.Range(0, random.Next(2, 400)).Select(_ => (float)(random.NextDouble() * 20 - 10)).ToArray();
            var parameters = new SamplingParams
            {
                MaxTokens = 1,
                Temperature = 0.2 + random.NextDouble() * 1.5,
                TopK = random.Next(-1, 60),
                TopP = random.Next(2) == 0 ? 1.0 : 0.05 + random.NextDouble() * 0.95,
            };
            var seed = random.Next();
            Assert.Equal(BySorting(logits, parameters, new Random(seed)), Sampler.Sample(logits, parameters, new Random(seed)));
        }
    }

    /// <summary>The textbook sampler: sort every token by logit, cut to top-k, then to top-p's mass, and walk the draw down the list.</summary>
    private static int BySorting(float[] logits, SamplingParams parameters, Random random)
    {
        if (parameters.TopK == 1)
        {
            return Sampler.ArgMax(logits);
        }
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).ToArray();
        var count = parameters.TopK > 0 ? Math.Min(parameters.TopK, order.Length) : order.Length;
        var max = logits[order[0]] / parameters.Temperature;
        var weights = order.Take(count).Select(i => Math.Exp(logits[i] / parameters.Temperature - max)).ToArray();
        var total = weights.Sum();
        if (parameters.TopP < 1.0)
        {
            var cumulative = 0.0;
            var kept = 0;
            while (kept < count && cumulative < parameters.TopP * total)
            {
                cumulative += weights[kept++];
            }
            count = Math.Max(kept, 1);
            total = cumulative;
        }
        var draw = random.NextDouble() * total;
        for (var i = 0; i < count; i++)
        {
            draw -= weights[i];
            if (draw < 0)
            {
                return order[i];
            }
        }
        return order[count - 1];
    }
}

public class NonFiniteLogitsTests
{
    [Theory]
    [InlineData(float.NaN, 0.0)]
    [InlineData(float.NaN, 0.8)]
    [InlineData(float.PositiveInfinity, 0.0)]
    [InlineData(float.PositiveInfinity, 0.8)]
    public void LogitsThatAreNaNOrInfinite_NeverBecomeAToken(float bad, double temperature)
    {
        float[] logits = [bad, 1.0f, 2.0f];
        Assert.Throws<NonFiniteLogitsException>(() => Sampler.Sample(logits, new SamplingParams { MaxTokens = 1, Temperature = temperature }, new Random(1)));
    }

    [Fact]
    public void NegativeInfinity_MasksAToken() =>
        Assert.Equal(2, Sampler.Sample([float.NegativeInfinity, 1.0f, 2.0f], new SamplingParams { MaxTokens = 1, Temperature = 0 }, new Random(1)));
}
