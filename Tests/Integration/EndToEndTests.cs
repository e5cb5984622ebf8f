using System.ClientModel;
using System.Net;
using System.Text.Json;
using Aspire.Hosting.Testing;
using OpenAI;
using OpenAI.Chat;
using Tests.Support;

namespace Tests.Integration;

[Collection(nameof(AppHostCollection))]
public class EndToEndTests(AppHostFixture system)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Gateway_StreamsAChatCompletion_ChunksArriveWhileGenerationRuns()
    {
        using var gateway = system.CreateClient("gateway");
        using var response = await gateway.PostJsonAsync("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Tell me a fact about the moon." } },
            max_tokens = 480,
            ignore_eos = true,
            stream = true,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadAllAsync(response, Cancel);

        Assert.True(events[^1].IsDone);
        Assert.True(events.Count > 400);
        // Buffered, every chunk would arrive with the last one; streamed, the first arrives long before.
        var firstChunk = events[0].ArrivedAfter;
        var lastChunk = events[^2].ArrivedAfter;
        Assert.True(firstChunk < lastChunk / 2, $"first chunk at {firstChunk.TotalMilliseconds} ms, last at {lastChunk.TotalMilliseconds} ms");
        Assert.True(events.Count(e => e.ArrivedAfter < lastChunk) > 10);
    }

    [Fact]
    public async Task Gateway_PropagatesTheRequestId_OrCreatesOne()
    {
        using var gateway = system.CreateClient("gateway");
        using var given = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 2 }, requestId: "e2e-request-1");
        using var created = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 2 });

        Assert.Equal("e2e-request-1", given.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("cmpl-e2e-request-1", (await given.JsonAsync()).GetProperty("id").GetString());
        var id = created.Headers.GetValues("X-Request-Id").Single();
        Assert.Equal("cmpl-" + id, (await created.JsonAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task GatewayMetrics_CarryTheRequestIdAsExemplar()
    {
        using var gateway = system.CreateClient("gateway");
        using (var response = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Exemplar", max_tokens = 2 }, requestId: "gw-exemplar-1"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var families = await Eventually.ReadUntilAsync(gateway.OpenMetricsAsync,
            f => f["vellum_gateway_upstream_time_to_first_byte_seconds"].Samples.Any(s => s.Exemplar?.Contains("request_id=\"gw-exemplar-1\"") == true),
            TimeSpan.FromSeconds(5));
        Assert.Contains(families["vellum_gateway_upstream_time_to_first_byte_seconds"].Samples, s => s.Exemplar?.Contains("request_id=\"gw-exemplar-1\"") == true);
    }

    [Fact]
    public async Task Gateway_RefusesABadRequestIdAtTheEdge()
    {
        using var gateway = system.CreateClient("gateway");
        using var response = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 2 }, requestId: new string('x', 41));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("X-Request-Id", error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task EachWorker_IsAddressableOnItsOwn_AndTheGatewayUsesBoth()
    {
        using var worker0 = system.CreateClient("worker0");
        using var worker1 = system.CreateClient("worker1");
        Assert.NotEqual(worker0.BaseAddress, worker1.BaseAddress);

        var before0 = await StepsAsync(worker0);
        var before1 = await StepsAsync(worker1);
        using var gateway = system.CreateClient("gateway");
        // Concurrent, as a load is: each request in flight raises its worker's cost, so the 12 spread whatever the
        // workers' readings were (sent one at a time, all 12 once went to one worker in a full run).
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            gateway.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 8, ignore_eos = true })));
        foreach (var response in responses)
        {
            using (response)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }
        Assert.True(await StepsAsync(worker0) > before0, "worker0 served nothing through the gateway");
        Assert.True(await StepsAsync(worker1) > before1, "worker1 served nothing through the gateway");
    }

    [Theory]
    [InlineData("POST", "/sleep?level=2")]
    [InlineData("POST", "/wake_up")]
    [InlineData("GET", "/is_sleeping")]
    public async Task Gateway_NeverExposesTheWorkersSleepEndpoints(string method, string path)
    {
        using var gateway = system.CreateClient("gateway");
        using var response = await gateway.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Cancel);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var served = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Still awake?", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Gateway_HasItsOwnHealthEndpoint()
    {
        using var gateway = system.CreateClient("gateway");
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/health", Cancel)).StatusCode);
    }

    [Fact]
    public async Task OfficialOpenAiClient_WorksAgainstTheGateway()
    {
        var client = new ChatClient("vellum-tiny", new ApiKeyCredential("not-needed"),
            new OpenAIClientOptions { Endpoint = new Uri(system.App.GetEndpoint("gateway", "http"), "/v1") });

        ChatCompletion completion = await client.CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("What is the capital of Italy?")],
            new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 }, Cancel);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.NotEmpty(completion.Content[0].Text);
        Assert.InRange(completion.Usage.OutputTokenCount, 1, 8);

        var streamed = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync(
                           [new SystemChatMessage("Be brief."), new UserChatMessage("What is the capital of Italy?")],
                           new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 }, Cancel))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }
            finish ??= update.FinishReason;
        }
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
        Assert.Equal(completion.FinishReason, finish);
    }

    /// <summary>
    /// A C# type as the answer's shape: its JSON Schema from System.Text.Json's exporter (strings and lists bounded, as an
    /// application bounds what it stores), strict, read back into the type.
    /// </summary>
    private sealed record City(string Name, int Population, bool Capital, string[] Districts, string? Mayor);

    [Fact]
    public async Task OfficialOpenAiClient_GetsAStructuredOutputThatDeserializesIntoItsType()
    {
        var client = new ChatClient("vellum-tiny", new ApiKeyCredential("not-needed"),
            new OpenAIClientOptions { Endpoint = new Uri(system.App.GetEndpoint("gateway", "http"), "/v1") });
        var json = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerOptions.Web) { RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true };
        var schema = System.Text.Json.Schema.JsonSchemaExporter.GetJsonSchemaAsNode(json, typeof(City), new System.Text.Json.Schema.JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            TransformSchemaNode = (context, node) =>
            {
                if (node is System.Text.Json.Nodes.JsonObject property && context.TypeInfo.Type == typeof(string))
                {
                    property["maxLength"] = 16;
                }
                else if (node is System.Text.Json.Nodes.JsonObject list && context.TypeInfo.Type == typeof(string[]))
                {
                    list["maxItems"] = 3;
                }
                return node;
            },
        });

        ChatCompletion completion = await client.CompleteChatAsync(
            [new UserChatMessage("Describe a city.")],
            new ChatCompletionOptions
            {
                MaxOutputTokenCount = 200, Temperature = 0.7f,
#pragma warning disable OPENAI001 // Seed: "for evaluation purposes", and reproducible runs are what a test wants
                Seed = 4,
#pragma warning restore OPENAI001
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("city", BinaryData.FromString(schema.ToJsonString()), jsonSchemaIsStrict: true),
            }, Cancel);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        var city = System.Text.Json.JsonSerializer.Deserialize<City>(completion.Content[0].Text, json);
        Assert.NotNull(city);
        Assert.NotNull(city.Name);
        Assert.NotNull(city.Districts);
    }

    [Fact]
    public async Task OfficialOpenAiNodeClient_WorksAgainstTheGateway()
    {
        const string client = "Tests/Clients/node";
        var node = RequiredTool.NodeWithPackages(client);
        var baseUrl = new Uri(system.App.GetEndpoint("gateway", "http"), "/v1");

        var (exitCode, output) = await Processes.RunAsync(node, $"{Path.Combine(Repository.Root, client, "check.mjs")} {baseUrl}");

        Assert.True(exitCode == 0, output);
        var result = JsonDocument.Parse(output).RootElement;
        Assert.Equal("vellum-tiny", result.GetProperty("models")[0].GetString());
        var chat = result.GetProperty("chat");
        Assert.Equal("chatcmpl-" + chat.GetProperty("requestId").GetString(), chat.GetProperty("id").GetString());
        Assert.NotEmpty(chat.GetProperty("text").GetString()!);
        Assert.InRange(chat.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), 1, 8);
        var streamed = result.GetProperty("streamed");
        Assert.Equal(chat.GetProperty("text").GetString(), streamed.GetProperty("text").GetString());
        Assert.Equal(chat.GetProperty("finish").GetString(), streamed.GetProperty("finish").GetString());
        Assert.True(streamed.GetProperty("chunks").GetInt32() > 2);
        Assert.Equal(chat.GetProperty("usage").GetProperty("total_tokens").GetInt32(), streamed.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(2, result.GetProperty("completion").GetProperty("choices").GetInt32());
        var error = result.GetProperty("error");
        Assert.Equal("NotFoundError", error.GetProperty("className").GetString());
        Assert.Equal(404, error.GetProperty("status").GetInt32());
        Assert.Contains("no-such-model", error.GetProperty("message").GetString());
        // The library's structured-output helper: a zod schema as response_format, the answer parsed back by zod.
        var structured = result.GetProperty("structured");
        Assert.Equal("stop", structured.GetProperty("finish").GetString());
        var city = structured.GetProperty("parsed");
        Assert.Equal(JsonDocument.Parse(structured.GetProperty("content").GetString()!).RootElement.ToString(), city.ToString());
        Assert.Contains(city.GetProperty("kind").GetString(), new[] { "town", "city" });
        Assert.InRange(city.GetProperty("population").GetInt64(), 0, 50_000_000);
    }

    [Fact]
    public async Task Gateway_CountsRequestsByRouteStatusAndUpstream_AndTimesTheFirstByte()
    {
        using var gateway = system.CreateClient("gateway");
        for (var i = 0; i < 6; i++)
        {
            using var response = await gateway.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 3, stream = i % 2 == 0 });
            await response.Content.ReadAsStringAsync(Cancel);
        }
        using var missing = await gateway.PostJsonAsync("/v1/completions", new { model = "no-such-model", prompt = "Hello" });

        static double Count(Dictionary<string, Family> m, string status) =>
            m.TryGetValue("vellum_gateway_requests_total", out var requests) ? requests.Samples.Where(s => s.Labels["route"] == "openai" && s.Labels["status"] == status).Sum(s => s.Value) : 0;
        var m = await gateway.MetricsUntilAsync(m => Count(m, "200") >= 6 && Count(m, "404") >= 1);

        var requests = m["vellum_gateway_requests_total"];
        Assert.Equal("counter", requests.Type);
        Assert.True(Count(m, "200") >= 6);
        Assert.True(Count(m, "404") >= 1);
        Assert.All(requests.Samples, s => Assert.Matches("^worker[01]$", s.Labels["upstream"]));
        var firstByte = m["vellum_gateway_upstream_time_to_first_byte_seconds"];
        Assert.Equal("histogram", firstByte.Type);
        Assert.True(firstByte.Samples.Where(s => s.Name.EndsWith("_count", StringComparison.Ordinal)).Sum(s => s.Value) >= 7);
        Assert.Equal("gauge", m["vellum_gateway_requests_in_flight"].Type);
        Assert.DoesNotContain(m.Keys, name => name.StartsWith("vllm:", StringComparison.Ordinal));
    }

    private static async Task<long> StepsAsync(HttpClient worker) =>
        (await (await worker.GetAsync("/engine/stats", Cancel)).JsonAsync()).GetProperty("steps").GetInt64();
}

[CollectionDefinition(nameof(AppHostCollection))]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>;
