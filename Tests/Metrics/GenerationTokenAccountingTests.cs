using System.Text.Json;
using Tests.Support;

namespace Tests.Metrics;

/// <summary>
/// vllm:generation_tokens counts exactly what the responses' usage reports, whatever the flags: with exemplars and
/// speculative decoding (several tokens per step) and with stop strings (the engine computes past a stop it has not been
/// told of yet; those tokens never count).
/// </summary>
public class GenerationTokenAccountingTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static readonly (string, string)[] Series = [("model_name", WorkerApp.ModelName), ("engine", "0")];

    public static TheoryData<string> Configurations => ["plain", "exemplars+speculation"];

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task GenerationTokens_EqualTheUsageOfEveryResponse(string configuration)
    {
        (string, string)[] settings = configuration == "plain"
            ? []
            : [("Metrics:EnableExemplars", "true"), ("Worker:SpeculativeConfig", """{"method": "draft_model", "num_speculative_tokens": 4}""")];
        await using var worker = await WorkerApp.StartAsync(settings);
        using var client = worker.CreateClient();

        var usage = 0;
        foreach (var stop in new[] { null, new[] { "e" }, new[] { "never written", "the" } })
        {
            foreach (var stream in new[] { false, true })
            {
                usage += await CompletionTokensAsync(client, new { prompt = "The keeper of the light", max_tokens = 40, n = 3, temperature = 0.8, seed = 7, stop, stream, stream_options = stream ? new { include_usage = true } : null });
                usage += await CompletionTokensAsync(client, new { messages = new[] { new { role = "user", content = "Tell me about the sea" } }, max_tokens = 30, stop, stream, stream_options = stream ? new { include_usage = true } : null }, "/v1/chat/completions");
            }
        }

        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(usage, (await client.MetricsAsync())["vllm:generation_tokens_total"].Value(Series));
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public async Task AStopString_EndsTheTextJustBeforeIt_AcrossTokensAndSpeculativeSteps(string configuration)
    {
        (string, string)[] settings = configuration == "plain" ? [] : [("Worker:SpeculativeConfig", """{"method": "draft_model", "num_speculative_tokens": 4}""")];
        await using var worker = await WorkerApp.StartAsync(settings);
        using var client = worker.CreateClient();
        var full = (await (await client.PostJsonAsync("/v1/completions", new { prompt = "Once upon a time", max_tokens = 60, temperature = 0, ignore_eos = true })).JsonAsync())
            .GetProperty("choices")[0].GetProperty("text").GetString()!;
        var stop = full.Substring(full.Length / 2, 3);

        var stopped = (await (await client.PostJsonAsync("/v1/completions", new { prompt = "Once upon a time", max_tokens = 60, temperature = 0, ignore_eos = true, stop = new[] { stop } })).JsonAsync())
            .GetProperty("choices")[0];

        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], stopped.GetProperty("text").GetString());
        Assert.Equal("stop", stopped.GetProperty("finish_reason").GetString());
        Assert.Equal(stop, stopped.GetProperty("stop_reason").GetString());
    }

    private static async Task<int> CompletionTokensAsync(HttpClient client, object body, string path = "/v1/completions")
    {
        using var response = await client.PostJsonAsync(path, body);
        response.EnsureSuccessStatusCode();
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            return (await response.JsonAsync()).GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        }
        var events = await Sse.ReadAllAsync(response, Cancel);
        return events.Where(e => !e.IsDone).Select(e => e.Json).Single(e => e.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            .GetProperty("usage").GetProperty("completion_tokens").GetInt32();
    }
}
