using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Api;

public class CompletionsApiTests(WorkerFixture worker)
{
    private readonly HttpClient _client = worker.CreateClient();

    private Task<JsonElement> CompleteAsync(object body) => PostOkAsync("/v1/completions", body);

    private async Task<JsonElement> PostOkAsync(string path, object body)
    {
        using var response = await _client.PostJsonAsync(path, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task ListModels_NamesTheServedModel()
    {
        var models = await (await _client.GetAsync("/v1/models", TestContext.Current.CancellationToken)).JsonAsync();

        Assert.Equal("list", models.GetProperty("object").GetString());
        var model = Assert.Single(models.GetProperty("data").EnumerateArray());
        Assert.Equal(WorkerApp.ModelName, model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(512, model.GetProperty("max_model_len").GetInt32());
    }

    [Fact]
    public async Task Completion_StringPrompt_HasTheTextCompletionShapeAndTokenizerUsage()
    {
        const string prompt = "The market opened at seven.";
        var body = await CompleteAsync(new { model = WorkerApp.ModelName, prompt, max_tokens = 7, temperature = 0, ignore_eos = true });

        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.True(body.GetProperty("created").GetInt64() > 1_700_000_000);
        Assert.Equal(WorkerApp.ModelName, body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.False(string.IsNullOrEmpty(choice.GetProperty("text").GetString()));
        var usage = body.GetProperty("usage");
        Assert.Equal(worker.Engine.Model.Encode(prompt).Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(7, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + 7, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_WithoutModel_UsesTheServedModel()
    {
        var body = await CompleteAsync(new { prompt = "Bread needs time.", max_tokens = 2 });
        Assert.Equal(WorkerApp.ModelName, body.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Completion_GreedyTwice_GivesTheSameText()
    {
        var request = new { prompt = "The river ran through", max_tokens = 40, temperature = 0, ignore_eos = true };
        var first = await CompleteAsync(request);
        var second = await CompleteAsync(request);
        Assert.Equal(Text(first), Text(second));
    }

    [Fact]
    public async Task Completion_SameSeed_ReproducesSampledText_AndAnotherSeedDiffers()
    {
        object Request(int seed) => new { prompt = "She opened the letter", max_tokens = 30, temperature = 1.0, seed, ignore_eos = true };
        var first = Text(await CompleteAsync(Request(42)));
        var again = Text(await CompleteAsync(Request(42)));
        var other = Text(await CompleteAsync(Request(43)));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task Completion_TokenIdPrompt_IsTheSameAsItsText()
    {
        const string prompt = "A map is not the land.";
        var ids = worker.Engine.Model.Encode(prompt);
        var fromText = await CompleteAsync(new { prompt, max_tokens = 20, temperature = 0, ignore_eos = true });
        var fromIds = await CompleteAsync(new { prompt = ids, max_tokens = 20, temperature = 0, ignore_eos = true });
        var fromIdLists = await CompleteAsync(new { prompt = new[] { ids }, max_tokens = 20, temperature = 0, ignore_eos = true });

        Assert.Equal(Text(fromText), Text(fromIds));
        Assert.Equal(Text(fromText), Text(fromIdLists));
    }

    [Fact]
    public async Task Completion_ListOfPromptsWithN_ReturnsPromptTimesNChoicesInOrder()
    {
        string[] prompts = ["The cat sat", "The ship left"];
        var body = await CompleteAsync(new { prompt = prompts, n = 2, max_tokens = 5, temperature = 0, ignore_eos = true });

        var choices = body.GetProperty("choices").EnumerateArray().ToArray();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c.GetProperty("index").GetInt32()));
        Assert.Equal(Text(choices[0]), Text(choices[1]));   // greedy samples of one prompt agree
        Assert.Equal(Text(await CompleteAsync(new { prompt = prompts[1], max_tokens = 5, temperature = 0, ignore_eos = true })), Text(choices[2]));
        var usage = body.GetProperty("usage");
        Assert.Equal(prompts.Sum(p => worker.Engine.Model.Encode(p).Length), usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(4 * 5, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_NWithSeed_SampleIUsesSeedPlusI()
    {
        var three = await CompleteAsync(new { prompt = "Numbers tell a story", n = 3, seed = 7, temperature = 1.0, max_tokens = 15, ignore_eos = true });
        var single = await CompleteAsync(new { prompt = "Numbers tell a story", n = 1, seed = 8, temperature = 1.0, max_tokens = 15, ignore_eos = true });

        var texts = three.GetProperty("choices").EnumerateArray().Select(Text).ToArray();
        Assert.Equal(3, texts.Distinct().Count());
        Assert.Equal(Text(single), texts[1]);
    }

    [Fact]
    public async Task Completion_StopString_AcrossTokens_EndsBeforeItAndIsNotEmitted()
    {
        var request = new Dictionary<string, object> { ["prompt"] = "The old clock in the hall", ["max_tokens"] = 60, ["temperature"] = 0, ["ignore_eos"] = true };
        var full = Text(await CompleteAsync(request));
        Assert.True(full.Length > 30, $"need a longer greedy text to place a stop string in: '{full}'");
        var stop = full.Substring(20, 10);   // ten characters always span more than one token of this vocabulary

        request["stop"] = new[] { "never appears in the output", stop };
        var body = await CompleteAsync(request);
        var choice = body.GetProperty("choices")[0];

        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], Text(choice));
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(stop, choice.GetProperty("stop_reason").GetString());
    }

    [Fact]
    public async Task Completion_StopTokenId_EndsTheSequenceWithStop()
    {
        var full = Text(await CompleteAsync(new { prompt = "He planted the seeds", max_tokens = 30, temperature = 0, ignore_eos = true }));
        var stopToken = worker.Engine.Model.Encode(full)[3];

        var body = await CompleteAsync(new { prompt = "He planted the seeds", max_tokens = 30, temperature = 0, ignore_eos = true, stop_token_ids = new[] { stopToken } });

        var choice = body.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(stopToken, choice.GetProperty("stop_reason").GetInt32()); // vLLM's stop_reason: the token id
        Assert.True(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32() < 30);
    }

    [Fact]
    public async Task Completion_WhoseLastAllowedTokenIsEndOfText_FinishesWithStop()
    {
        // vLLM's check_stop (vllm/v1/core/sched/utils.py @ 018d5dc78efa9af8a03457451b6f27d56bf3b9c2) looks at EOS and
        // stop_token_ids before max_tokens: a sequence whose max_tokens-th token is EOS stopped, it was not cut.
        var free = await CompleteAsync(new { prompt = "The cat sat by the window.", max_tokens = 60, temperature = 0 });
        var tokens = free.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.Equal("stop", free.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var capped = await CompleteAsync(new { prompt = "The cat sat by the window.", max_tokens = tokens, temperature = 0 });

        Assert.Equal("stop", capped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(tokens, capped.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_EndOfTextToken_FinishesWithStop_IsCountedButNotEmitted()
    {
        // On this model, greedy decoding after this prompt reaches end-of-text within a few tokens.
        var body = await CompleteAsync(new { prompt = "The cat sat by the window.", max_tokens = 60, temperature = 0 });
        var choice = body.GetProperty("choices")[0];
        var text = Text(choice);

        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("stop_reason").ValueKind);
        Assert.DoesNotContain("<|endoftext|>", text);
        Assert.Equal(worker.Engine.Model.Encode(text).Length + 1, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Completion_DefaultMaxTokens_Is16()
    {
        var body = await CompleteAsync(new { prompt = "The river", ignore_eos = true, temperature = 0 });
        Assert.Equal(16, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task RequestId_FromHeader_IsEchoedAndNamesTheResponse()
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 1 }, requestId: "client-chosen-id-1");

        Assert.Equal("client-chosen-id-1", response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("cmpl-client-chosen-id-1", (await response.JsonAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task RequestId_WhenAbsent_IsCreatedAndEchoed()
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 1 });

        var id = response.Headers.GetValues("X-Request-Id").Single();
        Assert.Matches("^[0-9a-f]{24}$", id);
        Assert.Equal("cmpl-" + id, (await response.JsonAsync()).GetProperty("id").GetString());
    }

    internal static string Text(JsonElement bodyOrChoice) =>
        (bodyOrChoice.TryGetProperty("choices", out var choices) ? choices[0] : bodyOrChoice).GetProperty("text").GetString()!;
}
