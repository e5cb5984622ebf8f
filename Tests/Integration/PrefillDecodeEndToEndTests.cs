using System.ClientModel;
using System.Net;
using Aspire.Hosting.Testing;
using OpenAI;
using OpenAI.Chat;
using Tests.Support;

namespace Tests.Integration;

/// <summary>
/// The AppHost's P/D topology end to end: the gateway splits a long prompt into a prefill leg on the prefill worker and
/// a decode leg on a decode worker, which reads the prompt's KV instead of computing it, and the client sees the same
/// answer a single worker gives, whole or streamed, through OpenAI's own client.
/// </summary>
[Collection(nameof(AppHostCollection))]
public class PrefillDecodeEndToEndTests(AppHostFixture system)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static string LongQuestion(string tag) =>
        $"[{tag}] " + string.Concat(Enumerable.Range(1, 40).Select(i => $"Rivers {i} run. ")) + "Which river runs last?";

    [Fact]
    public async Task ALongPrompt_IsPrefilledOnThePrefillWorker_AndDecodedFromItsKv_ForTheOpenAiClient()
    {
        var splitsBefore = await SplitsAsync();
        var readsBefore = await DecodeReadsAsync();
        var client = new ChatClient("vellum-tiny", new ApiKeyCredential("not-needed"),
            new OpenAIClientOptions { Endpoint = new Uri(system.App.GetEndpoint("gateway", "http"), "/v1") });
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };

        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage(LongQuestion("e2e-whole"))], options, Cancel);
        var streamed = new System.Text.StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(LongQuestion("e2e-streamed"))], options, Cancel))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
        }

        Assert.Equal(await AloneAsync(LongQuestion("e2e-whole")), whole.Content[0].Text);
        Assert.Equal(await AloneAsync(LongQuestion("e2e-streamed")), streamed.ToString());
        Assert.Equal(splitsBefore + 2, await Eventually.ReadUntilAsync(SplitsAsync, n => n >= splitsBefore + 2, TimeSpan.FromSeconds(5)));
        Assert.Equal(readsBefore + 2, await DecodeReadsAsync());
    }

    [Fact]
    public async Task BothLegs_CarryTheClientsRequestId()
    {
        var id = "pd-e2e-" + Guid.NewGuid().ToString("N")[..8];
        using var gateway = system.CreateClient("gateway");
        using var response = await gateway.PostJsonAsync("/v1/completions", new { prompt = LongQuestion(id), max_tokens = 4 }, requestId: id);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("cmpl-" + id, (await response.JsonAsync()).GetProperty("id").GetString());
        // The prefill worker ran the request under the same id: its request-level observations carry it as their exemplar.
        using var prefill = system.CreateClient("prefill0");
        var families = await prefill.OpenMetricsAsync();
        Assert.Contains(families["vllm:request_prompt_tokens"].Samples, s => s.Exemplar?.Contains($"request_id=\"cmpl-{id}\"") == true);
    }

    [Fact]
    public async Task ALongPromptWhoseLogprobsAreAsked_IsComputedByTheDecodeWorkerAlone()
    {
        // Its answer needs the prompt's logits, which a decode leg reading the KV never computes.
        using var gateway = system.CreateClient("gateway");
        var before = await DecisionsAsync("prompt_logprobs");
        using var scored = await gateway.PostJsonAsync("/v1/completions", new { prompt = LongQuestion("pd-echo"), max_tokens = 0, echo = true, logprobs = 1 });
        using var prompted = await gateway.PostJsonAsync("/v1/completions", new { prompt = LongQuestion("pd-prompt-logprobs"), max_tokens = 2, prompt_logprobs = 0 });

        var body = await scored.JsonAsync();
        Assert.True(scored.StatusCode == HttpStatusCode.OK, body.ToString());
        Assert.Equal(LongQuestion("pd-echo"), body.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(HttpStatusCode.OK, prompted.StatusCode);
        Assert.Equal(before + 2, await Eventually.ReadUntilAsync(() => DecisionsAsync("prompt_logprobs"), n => n >= before + 2, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AShortPrompt_GoesToADecodeWorkerAlone()
    {
        using var gateway = system.CreateClient("gateway");
        var before = await DecisionsAsync("short_prompt");
        using var response = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 2 });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await Eventually.ReadUntilAsync(() => DecisionsAsync("short_prompt"), n => n > before, TimeSpan.FromSeconds(5)) > before);
    }

    /// <summary>
    /// The answer of a worker that holds none of the KV under test: a worker of its own on the same tiny model (the
    /// AppHost's embedded default is built from the same recipe, byte for byte), without prefix caching, that has never
    /// seen the prompt. The prefill worker would not do: it computed the very KV the decode worker read.
    /// </summary>
    private static async Task<string> AloneAsync(string question)
    {
        await using var reference = await WorkerApp.StartAsync(("Worker:EnablePrefixCaching", "false"));
        using var worker = reference.CreateClient();
        using var response = await worker.PostJsonAsync("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = question } },
            max_tokens = 12,
            temperature = 0,
        });
        return (await response.JsonAsync()).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    private Task<double> SplitsAsync() => DecisionsAsync("split");

    private async Task<double> DecisionsAsync(string decision)
    {
        using var gateway = system.CreateClient("gateway");
        var metrics = await gateway.MetricsAsync();
        return metrics["vellum_gateway_prefill_decode_requests_total"].Value(("decision", decision));
    }

    /// <summary>Completed KV reads on the decode workers.</summary>
    private async Task<double> DecodeReadsAsync()
    {
        var reads = 0.0;
        foreach (var worker in new[] { "worker0", "worker1" })
        {
            using var client = system.CreateClient(worker);
            reads += (await client.MetricsAsync())["vllm:nixl_xfer_time_seconds"].Samples.Where(s => s.Name.EndsWith("_count", StringComparison.Ordinal)).Sum(s => s.Value);
        }
        return reads;
    }
}
