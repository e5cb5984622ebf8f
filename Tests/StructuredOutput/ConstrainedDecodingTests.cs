using System.Text;
using Tests.Support;
using Worker.StructuredOutput;

namespace Tests.StructuredOutput;

/// <summary>
/// Constrained decoding in the engine: the mask applies to greedy, seeded and speculative sampling alike, and a draft's
/// guesses are verified under it, so speculation changes no token of a constrained output.
/// </summary>
public class ConstrainedDecodingTests
{
    private const string Schema = """
        {"type":"object","properties":{"id":{"type":"integer","minimum":1,"maximum":9999},"name":{"type":"string","maxLength":16},
         "items":{"type":"array","items":{"enum":["the cat","the dog","a river"]},"maxItems":3}},"required":["id","name","items"],"additionalProperties":false}
        """;

    private static readonly string[] Prompts = ["The cat sat by the window.", "A good server answers every request.", "The river ran through the valley.", "The ship left the harbour."];

    private static async Task<(string[] Texts, int Rounds)> RunAsync(string? speculativeConfig, double temperature)
    {
        var grammar = Grammars.Schema(Schema, anyWhitespace: false);
        using var harness = new EngineHarness(maxNumSeqs: 4, speculativeConfig: speculativeConfig);
        var submitted = Prompts.Select((prompt, i) => harness.Submit(prompt, maxTokens: 120, temperature: temperature, seed: 40 + i, grammar: grammar)).ToArray();
        var results = await Task.WhenAll(submitted.Select(s => s.CompletionAsync()));
        var idle = await harness.WaitForAsync(s => s.ActiveRequests == 0, TimeSpan.FromSeconds(10));
        WorkerApp.AssertHoldsNothing(idle);
        var eos = harness.Model.Folder.EosTokenIds;
        var texts = results.Select(r => harness.Model.Decode(r[0].Tokens.Where(t => !eos.Contains(t)).ToArray())).ToArray();
        return (texts, submitted.Sum(s => s.Request.Sequences[0].Speculation.Rounds));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.9)]
    public async Task ConstrainedOutputs_AreValid_AndIdenticalWithSpeculation(double temperature)
    {
        var (plain, _) = await RunAsync(null, temperature);
        var (speculative, rounds) = await RunAsync("""{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 1, "disable_by_batch_size": 8}""", temperature);
        var (drafted, draftRounds) = await RunAsync("""{"method": "draft_model", "num_speculative_tokens": 4, "disable_by_batch_size": 8}""", temperature);

        Assert.All(plain, text => Assert.True(Grammars.Validates(Schema, text, out var why), $"{text}: {why}"));
        Assert.Equal(plain, speculative);
        Assert.Equal(plain, drafted);
        Assert.True(rounds > 0 && draftRounds > 0, "no speculative round ran");
    }
}
