using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Lora;

public class LoraServingTests(LoraWorkerFixture fixture) : IClassFixture<LoraWorkerFixture>
{
    private readonly HttpClient _client = fixture.Worker.CreateClient();

    private async Task<string> GreedyTextAsync(string model, string prompt, int maxTokens = 16)
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { model, prompt, max_tokens = maxTokens, temperature = 0, ignore_eos = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(model, body.GetProperty("model").GetString());
        return body.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    [Fact]
    public async Task ModelsList_ShowsEachAdapterWithTheBaseAsItsParent()
    {
        var models = await (await _client.GetAsync("/v1/models", TestContext.Current.CancellationToken)).JsonAsync();

        var cards = models.GetProperty("data").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        Assert.Equal(JsonValueKind.Null, cards[WorkerApp.ModelName].GetProperty("parent").ValueKind);
        foreach (var adapter in new[] { "alpha", "beta" })
        {
            Assert.Equal(WorkerApp.ModelName, cards[adapter].GetProperty("parent").GetString());
            Assert.Equal(TinyLoraModel.Adapter(adapter), cards[adapter].GetProperty("root").GetString());
            Assert.Equal("model", cards[adapter].GetProperty("object").GetString());
        }
    }

    [Fact]
    public async Task AnAdapter_ChangesWhatTheModelGenerates_AndEachAdapterDiffers()
    {
        const string prompt = "The harbour was quiet before";
        var texts = new Dictionary<string, string>();
        foreach (var model in new[] { WorkerApp.ModelName, "alpha", "beta" })
        {
            texts[model] = await GreedyTextAsync(model, prompt);
        }

        Assert.Equal(3, texts.Values.Distinct().Count());
        Assert.Equal(texts["alpha"], await GreedyTextAsync("alpha", prompt));
    }

    [Fact]
    public async Task AnUnknownModel_Is404ModelNotFound()
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { model = "delta", prompt = "Hello", max_tokens = 2 });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("delta", error.GetProperty("message").GetString());
    }
}
