using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tests.Support;

/// <summary>
/// A prefill worker (kv_producer) and a decode worker (kv_consumer) on the tiny model, each a worker as operators
/// start it, driven through their HTTP APIs as vLLM's proxy drives them: the prefill leg, then the decode leg with the
/// kv_transfer_params it answered with. The KV moves over a real TCP connection between the two.
/// </summary>
public sealed class PrefillDecodeWorkers : IAsyncDisposable
{
    private PrefillDecodeWorkers(WorkerApp producer, WorkerApp consumer)
    {
        Producer = producer;
        Consumer = consumer;
        ProducerClient = producer.CreateClient();
        ConsumerClient = consumer.CreateClient();
    }

    public WorkerApp Producer { get; }

    public WorkerApp Consumer { get; }

    public HttpClient ProducerClient { get; }

    public HttpClient ConsumerClient { get; }

    /// <param name="abortRequestTimeout">Seconds the producer holds KV nobody reads.</param>
    /// <param name="exemplars">--enable-exemplars on the decode worker.</param>
    /// <param name="both">Settings both workers take (a model, LoRA).</param>
    public static async Task<PrefillDecodeWorkers> StartAsync(double abortRequestTimeout = 480, string? producerModel = null, bool exemplars = false,
        IReadOnlyList<(string Key, string Value)>? both = null)
    {
        var producerSettings = new List<(string, string)>(both ?? []) { ("Worker:KvTransferConfig", Config("kv_producer", abortRequestTimeout)) };
        if (producerModel is not null)
        {
            producerSettings.Add(("Worker:Model", producerModel));
        }
        var producer = await WorkerApp.StartAsync([.. producerSettings]);
        var consumer = await WorkerApp.StartAsync([.. both ?? [], ("Worker:KvTransferConfig", Config("kv_consumer")), ("Worker:EnablePerRequestMetrics", "true"),
            ("Metrics:EnableExemplars", exemplars ? "true" : "false")]);
        return new PrefillDecodeWorkers(producer, consumer);
    }

    public static string Config(string role, double abortRequestTimeout = 480) =>
        $$$"""{"kv_connector":"TcpKvConnector","kv_role":"{{{role}}}","kv_port":0,"kv_connector_extra_config":{"abort_request_timeout":{{{abortRequestTimeout.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}}}""";

    /// <summary>The prefill leg, as vLLM's proxy sends it; returns the producer's kv_transfer_params.</summary>
    public Task<JsonNode> PrefillAsync(JsonObject body, string requestId) => PrefillAsync(ProducerClient, body, requestId);

    /// <summary>The prefill leg to any producer (a worker in a process of its own, say).</summary>
    public static async Task<JsonNode> PrefillAsync(HttpClient producer, JsonObject body, string requestId)
    {
        var leg = (JsonObject)body.DeepClone();
        leg["kv_transfer_params"] = new JsonObject { ["do_remote_decode"] = true, ["do_remote_prefill"] = false };
        leg["max_tokens"] = 1;
        leg["stream"] = false;
        leg.Remove("include_metrics");
        using var response = await producer.PostRawAsync("/v1/completions", leg.ToJsonString(), requestId);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        return answer!["kv_transfer_params"]?.DeepClone() ?? throw new Xunit.Sdk.XunitException($"The prefill leg held no KV: {answer}");
    }

    /// <summary>The decode leg: the client's own body plus the producer's kv_transfer_params.</summary>
    public Task<HttpResponseMessage> DecodeAsync(JsonObject body, JsonNode kvTransferParams, string requestId) =>
        DecodeAsync(ConsumerClient, body, kvTransferParams, requestId);

    /// <summary>The decode leg to any consumer.</summary>
    public static Task<HttpResponseMessage> DecodeAsync(HttpClient consumer, JsonObject body, JsonNode kvTransferParams, string requestId)
    {
        var leg = (JsonObject)body.DeepClone();
        leg["kv_transfer_params"] = kvTransferParams.DeepClone();
        return consumer.PostRawAsync("/v1/completions", leg.ToJsonString(), requestId);
    }

    /// <summary>Both legs; returns the decode leg's text (streamed or whole) and its response body or final chunk.</summary>
    public async Task<string> RunAsync(JsonObject body, string requestId) =>
        await TextAsync(await DecodeAsync(body, await PrefillAsync(body, requestId), requestId));

    /// <summary>The text of a completion's first choice, from a whole response or a stream of chunks.</summary>
    public static async Task<string> TextAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            {
                return (await response.JsonAsync()).GetProperty("choices")[0].GetProperty("text").GetString()!;
            }
            var text = new StringBuilder();
            foreach (var sse in (await Sse.ReadAllAsync(response, TestContext.Current.CancellationToken)).Where(e => !e.IsDone))
            {
                Assert.False(sse.Json.TryGetProperty("error", out var error), $"The stream carried an error: {error}");
                if (sse.Json.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0)
                {
                    text.Append(choices[0].GetProperty("text").GetString());
                }
            }
            return text.ToString();
        }
    }

    /// <summary>Waits until a worker serves nothing and holds no KV for another; returns its counts then.</summary>
    public static Task<Worker.Engine.EngineSnapshot> WaitUntilFreedAsync(WorkerApp worker) =>
        Eventually.ReadUntilAsync(() => worker.Engine.Snapshot,
            s => s is { ActiveRequests: 0, Running: 0, Waiting: 0, HeldForTransfer: 0, UsedBlocks: 0 }, TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        ProducerClient.Dispose();
        ConsumerClient.Dispose();
        await Producer.DisposeAsync();
        await Consumer.DisposeAsync();
    }
}
