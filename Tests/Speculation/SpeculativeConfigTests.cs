using Tests.Support;
using Worker.Engine;
using Worker.Engine.Speculation;
using ModelBuilder;
using Worker.Options;
using Worker.Runner;

namespace Tests.Speculation;

public class SpeculativeConfigTests
{
    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("""{"num_speculative_tokens": 2}""", "\"method\" is required")]
    [InlineData("""{"method": "eagle", "num_speculative_tokens": 2}""", "must be draft_model or ngram; got \"eagle\"")]
    [InlineData("""{"method": "ngram"}""", "\"num_speculative_tokens\" is required")]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": 0}""", "between 1 and 16; got 0")]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": 17}""", "between 1 and 16; got 17")]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": "4"}""", "\"num_speculative_tokens\" must be an integer")]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 2, "prompt_lookup_min": 3}""", "\"prompt_lookup_min\" (3)")]
    [InlineData("""{"method": "draft_model", "num_speculative_tokens": 4, "model": "/no/such/draft"}""", "'/no/such/draft' has no genai_config.json")]
    [InlineData("""{"method": "ngram", "num_speculative_tokens": 4, "min_adaptive_k": 5}""", "\"min_adaptive_k\" must be between 1 and num_speculative_tokens (4); got 5")]
    public void BadConfig_IsRefusedWithAMessageNamingTheProblem(string json, string expected)
    {
        var error = Assert.Throws<InvalidOperationException>(() => SpeculativeConfig.Parse(json, TinyModel.DraftDirectory));
        Assert.StartsWith("--speculative-config is invalid: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void DraftModelWithoutAPath_UsesTheDefaultDraftFolder()
    {
        var config = SpeculativeConfig.Parse("""{"method": "draft_model", "num_speculative_tokens": 3}""", TinyModel.DraftDirectory);
        Assert.Equal(Path.Combine(TinyModel.Directory, ModelFolderBuilder.DraftFolderName), config.DraftModel);
    }

    [Fact]
    public void DraftWithAnotherTokenizer_IsRefused()
    {
        var other = Directory.CreateDirectory(TestFolders.New("draft")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(TinyModel.Directory, ModelFolderBuilder.DraftFolderName)))
        {
            File.Copy(file, Path.Combine(other, Path.GetFileName(file)));
        }
        File.AppendAllText(Path.Combine(other, "tokenizer.json"), " ");

        var error = Assert.Throws<InvalidOperationException>(() =>
            SpeculativeConfig.CheckDraftMatches(ModelFolder.Read(TinyModel.Directory), ModelFolder.Read(other), 512));
        Assert.Contains("tokenizer.json", error.Message);
    }

    [Fact]
    public void DraftWithAnotherVocabulary_IsRefused()
    {
        var target = ModelFolder.Read(TinyModel.Directory);
        var error = Assert.Throws<InvalidOperationException>(() =>
            SpeculativeConfig.CheckDraftMatches(target, target with { VocabSize = 1000 }, 512));
        Assert.Contains("1000 tokens", error.Message);
    }

    [Fact]
    public async Task AMalformedConfig_FailsOptionsValidation_BeforeAnyModelLoads()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            WorkerApp.StartAsync(("Worker:Model", "/no/such/model"), ("Worker:SpeculativeConfig", """{"method": "ngram", "num_speculative_tokens": 99}""")));

        Assert.Contains("\"num_speculative_tokens\" must be between 1 and 16; got 99", error.Message);
    }

    [Fact]
    public async Task BadConfig_AtStartUp_StopsTheWorkerAndSaysWhy()
    {
        var errors = await FailedStart.ErrorsOfAsync(new ServeOptions
        {
            Model = TinyModel.Directory,
            SpeculativeConfig = """{"method": "draft_model", "num_speculative_tokens": 99}""",
        });

        Assert.Contains(errors, e => e.Contains("\"num_speculative_tokens\" must be between 1 and 16; got 99"));
    }
}
