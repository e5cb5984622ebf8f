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
        foreach (var adapter in TinyLoraModel.Adapters)
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
    public async Task RequestsOfSeveralAdapters_AndTheBase_AtOnce_GetWhatEachGetsAlone()
    {
        string[] models = [WorkerApp.ModelName, "alpha", "beta", "alpha"];
        string[] prompts = ["The river ran", "Snow fell on the", "Numbers and letters", "A quiet village"];
        async Task<string> SeededAsync(int i)
        {
            using var response = await _client.PostJsonAsync("/v1/completions", new { model = models[i], prompt = prompts[i], max_tokens = 24, temperature = 0.8, seed = 7 + i, ignore_eos = true });
            return (await response.JsonAsync()).GetProperty("choices")[0].GetProperty("text").GetString()!;
        }
        var alone = new List<string>();
        for (var i = 0; i < models.Length; i++)
        {
            alone.Add(await SeededAsync(i));
        }

        // Held paused until all four are queued, so that they start in one step and share every step after.
        var engine = fixture.Worker.Engine;
        await engine.PauseAsync(Worker.Engine.PauseMode.Keep, clearCache: false);
        var together = Enumerable.Range(0, models.Length).Select(SeededAsync).ToArray();
        await Eventually.ReadUntilAsync(() => engine.Snapshot, s => s.Waiting == models.Length, TimeSpan.FromSeconds(10));
        engine.Resume();

        Assert.Equal(alone, await Task.WhenAll(together));
    }

    [Fact]
    public async Task WithTwoSlots_ANewAdapter_TakesTheSlotOfTheLeastRecentlyUsedIdleOne()
    {
        foreach (var model in new[] { "alpha", "beta", "alpha", "gamma" })
        {
            await GreedyTextAsync(model, "Bread needs time.", maxTokens: 2);
        }

        var idle = await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["alpha", "gamma"], idle.Lora!.Resident);
        var resident = (await _client.MetricsAsync())["vellum_lora_resident_info"];
        Assert.Equal("alpha,gamma", resident.Samples.MaxBy(s => s.Value)!.Labels["resident_lora_adapters"]);
    }

    [Fact]
    public async Task APrefixCachedUnderOneAdapter_IsNeverReusedByAnotherOrByTheBase()
    {
        // Three whole blocks of prompt: a hit would be at least 32 tokens.
        var prompt = string.Concat(Enumerable.Repeat("The lighthouse keeper counted ships at dusk. ", 4));
        var beta = await GreedyTextAsync("beta", prompt);
        await GreedyTextAsync("alpha", prompt);
        var hits = (await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10))).PrefixHits;

        await GreedyTextAsync(WorkerApp.ModelName, prompt + "Elsewhere");
        await GreedyTextAsync("gamma", prompt + "Elsewhere");
        Assert.Equal(hits, (await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10))).PrefixHits);

        Assert.Equal(beta, await GreedyTextAsync("beta", prompt));
        var hitsAfter = (await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10))).PrefixHits;
        Assert.True(hitsAfter - hits >= 32, $"beta's own cached prefix was not reused ({hitsAfter - hits} tokens hit)");
    }

    [Fact]
    public async Task ARequestsOwnMetrics_NameItsAdapter_AndTheBasesNameNone()
    {
        async Task<JsonElement> MetricsAsync(string model)
        {
            using var response = await _client.PostJsonAsync("/v1/completions", new { model, prompt = "Snow", max_tokens = 2, include_metrics = true });
            return (await response.JsonAsync()).GetProperty("metrics");
        }

        Assert.Equal("beta", (await MetricsAsync("beta")).GetProperty("lora_adapter").GetString());
        Assert.False((await MetricsAsync(WorkerApp.ModelName)).TryGetProperty("lora_adapter", out _));
    }

    [Fact]
    public async Task ARequestsServerSpan_NamesTheModelAskedFor_AndItsAdapter()
    {
        var spans = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);

        using var response = await _client.PostJsonAsync("/v1/completions", new { model = "gamma", prompt = "Snow", max_tokens = 2 }, requestId: "lora-span");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var server = await Eventually.ReadUntilAsync(() => spans.FirstOrDefault(s => s.GetTagItem("request_id") as string == "cmpl-lora-span"), s => s is not null, TimeSpan.FromSeconds(5));
        Assert.Equal(("gamma", "gamma"), (server?.GetTagItem("gen_ai.request.model"), server?.GetTagItem("vellum.lora_adapter")));
    }

    [Fact]
    public async Task AnUnknownModel_Is404ModelNotFound()
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { model = "zeta", prompt = "Hello", max_tokens = 2 });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("zeta", error.GetProperty("message").GetString());
    }
}
