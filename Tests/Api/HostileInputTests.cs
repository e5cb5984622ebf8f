using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Tests.Support;
using Worker.Engine;

namespace Tests.Api;

/// <summary>
/// What a hostile or broken client sends gets an OpenAI-style error and costs the server nothing lasting. A worker of
/// its own: the tests compare engine-wide counts before and after, which other classes' requests would move.
/// </summary>
public class HostileInputTests(DedicatedWorkerFixture fixture) : IClassFixture<DedicatedWorkerFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private readonly WorkerApp _worker = fixture.Worker;

    private readonly HttpClient _client = fixture.Worker.CreateClient();

    [Fact]
    public async Task InvalidUtf8InAString_Gets400NamingTheField()
    {
        byte[] body = [.. "{\"prompt\": \"ok "u8, 0xff, 0xfe, .. "\"}"u8];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _client.PostAsync("/v1/completions", content, Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("prompt", (await response.JsonAsync()).GetProperty("error").GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task ABodyThatSaysItIsNotJson_Gets415(string mediaType)
    {
        using var content = new StringContent("""{"prompt": "hi"}""", Encoding.UTF8, mediaType);
        using var response = await _client.PostAsync("/v1/completions", content, Cancel);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("unsupported_media_type", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ABodyWithoutAContentType_IsReadAsJson()
    {
        using var content = new ByteArrayContent("""{"prompt": "Hello", "max_tokens": 2}"""u8.ToArray());
        using var response = await _client.PostAsync("/v1/completions", content, Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The amplification found on main: 25 KB of body queued 639,776 sequences.</summary>
    [Fact]
    public async Task ThousandsOfPromptsTimesN_AreRefusedBeforeAnyIsTokenizedOrQueued()
    {
        var before = _worker.Engine.Snapshot.Finished.Values.Sum();
        using var response = await _client.PostRawAsync("/v1/completions",
            JsonSerializer.Serialize(new { prompt = Enumerable.Repeat(new[] { 1 }, 5000).ToArray(), n = 128, max_tokens = 1 }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("n", error.GetProperty("param").GetString());
        Assert.Contains("640000 sequences", error.GetProperty("message").GetString());
        Assert.Equal(before, _worker.Engine.Snapshot.Finished.Values.Sum());
    }

    /// <summary>
    /// The tiny model (2 layers, 2 KV heads of 16 floats) in the default 4 GiB budget: 2 × 2 × 2 × 16 × 4 bytes × 16
    /// tokens = 8 KiB a block, 524,288 blocks, 8,388,608 tokens; 64 × --max-num-seqs 8 = 512 sequences.
    /// </summary>
    [Fact]
    public void TheQueue_HasFiniteLimitsByDefault_DerivedFromTheKvCache()
    {
        var options = _worker.Engine.Options;

        Assert.Equal(512, options.MaxNumQueuedRequests);
        Assert.Equal(8_388_608L, options.MaxNumQueuedTokens);
    }

    /// <summary>temperature 1e-310 overflowed logits to NaN and sampled the worst token; below 1e-5 is greedy, as in vLLM.</summary>
    [Theory]
    [InlineData(1e-310)]
    [InlineData(1e-6)]
    public async Task TinyTemperatures_SampleGreedily(double temperature)
    {
        const string prompt = "The harbour was quiet until";
        using var greedy = await _client.PostJsonAsync("/v1/completions", new { prompt, max_tokens = 12, temperature = 0, ignore_eos = true });
        using var tiny = await _client.PostJsonAsync("/v1/completions", new { prompt, max_tokens = 12, temperature, ignore_eos = true });

        Assert.Equal(HttpStatusCode.OK, tiny.StatusCode);
        Assert.Equal(Text(await greedy.JsonAsync()), Text(await tiny.JsonAsync()));
    }

    private static string Text(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("text").GetString()!;
}

public class RequestTimeoutTests
{
    /// <summary>A body that arrives in two parts with a pause between them, as a slow upload does.</summary>
    private sealed class SlowUpload(string json, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(pause);
            await stream.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>On main a deadline already passed at submission threw from CancelAfter: a 500.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADeadlineThatPassedDuringTheUpload_Gets504_AndCountsAsAnAbort(bool stream)
    {
        await using var worker = await WorkerApp.StartOnKestrelAsync(("Worker:RequestTimeout", "0.2"));
        // A plain client: the test client's redirect handler would buffer the body and send it whole.
        using var client = new HttpClient { BaseAddress = worker.Address };
        var json = JsonSerializer.Serialize(new { prompt = "Hello there", max_tokens = 4, stream });
        using var content = new SlowUpload(json, TimeSpan.FromMilliseconds(600));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await client.PostAsync("/v1/completions", content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("request_timeout", (await response.JsonAsync()).GetProperty("error").GetProperty("code").GetString());
        var idle = await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, idle.Finished["abort"]);
        var metrics = await client.MetricsAsync();
        Assert.Equal(1, metrics["vllm:request_success_total"].Value([("model_name", WorkerApp.ModelName), ("engine", "0"), ("finished_reason", "abort")]));
    }
}

public class RequestBodyLimitTests
{
    [Fact]
    public async Task ABodyOverKestrelsLimit_Gets413WithAnOpenAiError()
    {
        await using var worker = new WorkerApp();
        worker.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxRequestBodySize = 2048;
        });
        worker.StartServer();
        await worker.WaitUntilHealthyAsync();
        using var client = new HttpClient { BaseAddress = worker.Address };

        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = new string('a', 5000) });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("invalid_request_error", (await response.JsonAsync()).GetProperty("error").GetProperty("type").GetString());
    }
}
