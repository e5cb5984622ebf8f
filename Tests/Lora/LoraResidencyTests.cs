using System.Net;
using Tests.Support;
using Worker.Engine;

namespace Tests.Lora;

public class LoraResidencyTests(OneLoraSlotFixture fixture) : IClassFixture<OneLoraSlotFixture>
{
    private readonly HttpClient _client = fixture.Worker.CreateClient();

    private async Task CompleteAsync(string model, int maxTokens)
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { model, prompt = "The harbour was quiet", max_tokens = maxTokens, temperature = 0, ignore_eos = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WithOneSlot_AnotherAdaptersRequest_WaitsForTheRunningOne_WhileTheBaseRunsBesideIt()
    {
        var engine = fixture.Worker.Engine;
        await engine.PauseAsync(PauseMode.Keep, clearCache: false);
        // Queued in this order: alpha (long), beta (short, needs alpha's slot), the base (short).
        var alpha = CompleteAsync("alpha", 400);
        await Eventually.ReadUntilAsync(() => engine.Snapshot, s => s.Waiting == 1, TimeSpan.FromSeconds(10));
        var beta = CompleteAsync("beta", 2);
        await Eventually.ReadUntilAsync(() => engine.Snapshot, s => s.Waiting == 2, TimeSpan.FromSeconds(10));
        var baseModel = CompleteAsync(WorkerApp.ModelName, 2);
        await Eventually.ReadUntilAsync(() => engine.Snapshot, s => s.Waiting == 3, TimeSpan.FromSeconds(10));
        engine.Resume();

        // The base's two tokens came while alpha's 400 were still being generated, beta still waiting.
        await baseModel;
        var lora = engine.Snapshot.Lora!;
        Assert.Equal(("alpha", "beta"), (string.Join(',', lora.Running), string.Join(',', lora.Waiting)));
        await Task.WhenAll(alpha, beta);

        // Every adapter set the engine went through is a series: beta waited while alpha ran, and never ran beside it.
        var info = (await _client.MetricsAsync())["vllm:lora_requests_info"];
        Assert.Contains(info.Samples, s => s.Labels["running_lora_adapters"] == "alpha" && s.Labels["waiting_lora_adapters"] == "beta" && s.Labels["max_lora"] == "1");
        Assert.DoesNotContain(info.Samples, s => s.Labels["running_lora_adapters"].Split(',').Length > 1);
        Assert.Contains(info.Samples, s => s.Labels["running_lora_adapters"] == "beta");
        var latest = info.Samples.MaxBy(s => s.Value)!;
        Assert.Equal(("", ""), (latest.Labels["running_lora_adapters"], latest.Labels["waiting_lora_adapters"]));
        Assert.InRange(latest.Value, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        WorkerApp.AssertHoldsNothing(await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10)));
    }
}
