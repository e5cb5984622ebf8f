using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Metrics;

/// <summary>--enable-exemplars: request ids (and trace ids) on request-level observations, in OpenMetrics only.</summary>
public class ExemplarTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static async Task<string> ScrapeOpenMetricsAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text");
        using var response = await client.SendAsync(request, Cancel);
        Assert.StartsWith("application/openmetrics-text", response.Content.Headers.ContentType?.ToString());
        return await response.Content.ReadAsStringAsync(Cancel);
    }

    private const string ExemplarLister = """
        import json, sys
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(sys.stdin.read()):
            for sample in family.samples:
                if sample.exemplar is not None:
                    out.append({"family": family.name, "sample": sample.name, "labels": sample.exemplar.labels})
        print(json.dumps(out))
        """;

    [Fact]
    public async Task OpenMetrics_PassesTheStrictParser_AndEveryExemplarNamesARequestThatWasSent()
    {
        var python = RequiredTool.PythonWith("prometheus_client", "apt-get install -y python3-prometheus-client");
        await using var worker = await WorkerApp.StartAsync(("Metrics:EnableExemplars", "true"));
        using var client = worker.CreateClient();
        using (await client.PostJsonAsync("/v1/completions", new { prompt = "The cat", max_tokens = 5, ignore_eos = true }, requestId: "ex-1")) { }
        using (await client.PostJsonAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 5 }, requestId: "ex-2")) { }
        using (await client.PostJsonAsync("/v1/completions", new { prompt = "The river", n = 2, max_tokens = 5, ignore_eos = true }, requestId: "ex-3")) { }
        using (var streamed = await client.PostJsonAsync("/v1/completions", new { prompt = new[] { "A", "B" }, max_tokens = 5, stream = true }, requestId: "ex-4"))
        {
            await streamed.Content.ReadAsStringAsync(Cancel);
        }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));
        string[] sent = ["cmpl-ex-1", "chatcmpl-ex-2", "cmpl-ex-3", "cmpl-ex-4-0", "cmpl-ex-4-1"];

        var (exitCode, output) = await Processes.RunPythonAsync(python, ExemplarLister, await ScrapeOpenMetricsAsync(client));

        Assert.True(exitCode == 0, output);
        // ASP.NET Core's own metrics carry trace exemplars too; the engine's carry request ids.
        var exemplars = JsonDocument.Parse(output).RootElement.EnumerateArray()
            .Where(e => e.GetProperty("family").GetString()!.StartsWith("vllm:", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(exemplars);
        Assert.All(exemplars, e => Assert.Contains(e.GetProperty("labels").GetProperty("request_id").GetString(), sent));
        var families = exemplars.Select(e => e.GetProperty("family").GetString()).ToHashSet();
        foreach (var family in new[] { "vllm:e2e_request_latency_seconds", "vllm:time_to_first_token_seconds", "vllm:request_queue_time_seconds",
                     "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds", "vllm:request_inference_time_seconds",
                     "vllm:request_time_per_output_token_seconds", "vllm:request_prompt_tokens", "vllm:request_generation_tokens",
                     "vllm:prompt_tokens", "vllm:generation_tokens", "vllm:request_success" })
        {
            Assert.Contains(family, families);
        }
    }

    [Fact]
    public async Task ClassicFormat_NeverCarriesExemplars_AndRequestIdIsNeverALabel()
    {
        await using var worker = await WorkerApp.StartAsync(("Metrics:EnableExemplars", "true"));
        using var client = worker.CreateClient();
        using (await client.PostJsonAsync("/v1/completions", new { prompt = "The cat", max_tokens = 5 }, requestId: "classic-1")) { }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));

        var classic = await client.GetStringAsync("/metrics", Cancel);
        var openMetrics = await ScrapeOpenMetricsAsync(client);

        Assert.DoesNotContain(" # {", classic);
        Assert.Contains("request_id=\"cmpl-classic-1\"} ", openMetrics);
        Assert.DoesNotContain(PrometheusText.Parse(openMetrics).Values.SelectMany(f => f.Samples), s => s.Labels.ContainsKey("request_id"));
    }

    [Fact]
    public async Task LongestRequestId_KeepsItsExemplarBesideTheTraceIds_AndALongerOneIsRefused()
    {
        await using var worker = await WorkerApp.StartAsync(("Metrics:EnableExemplars", "true"));
        using var client = worker.CreateClient();
        var longest = new string('r', 40);
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent(new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 3 }),
        };
        request.Headers.Add("X-Request-Id", longest);
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using (var response = await client.SendAsync(request, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));

        var e2e = PrometheusText.Parse(await ScrapeOpenMetricsAsync(client))["vllm:e2e_request_latency_seconds"];
        var exemplar = Assert.Single(e2e.Samples, s => s.Exemplar is not null).Exemplar!;
        Assert.Contains($"request_id=\"chatcmpl-{longest}\"", exemplar);
        Assert.Contains($"trace_id=\"{traceId}\"", exemplar);

        using var tooLong = await client.PostJsonAsync("/v1/completions", new { prompt = "Hi" }, requestId: longest + "r");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
    }

    [Fact]
    public async Task WhenTheResponseArrives_ItsRequestIsCounted_AndEveryExemplarCarriesItsTrace()
    {
        await using var worker = await WorkerApp.StartAsync(("Metrics:EnableExemplars", "true"));
        using var client = worker.CreateClient();
        var traces = new Dictionary<string, ActivityTraceId>();
        for (var i = 0; i < 6; i++)
        {
            var traceId = ActivityTraceId.CreateRandom();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = JsonContent(new { prompt = "The river ran", max_tokens = 4, ignore_eos = true, stream = i % 2 == 1 }),
            };
            request.Headers.Add("X-Request-Id", $"traced-{i}");
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
            using var response = await client.SendAsync(request, Cancel);
            await response.Content.ReadAsStringAsync(Cancel);
            traces[$"cmpl-traced-{i}"] = traceId;
        }

        // No waiting for the engine: a client that has its response finds it in the very next scrape.
        var families = PrometheusText.Parse(await ScrapeOpenMetricsAsync(client));
        Assert.Equal(traces.Count, families["vllm:request_success"].Samples.Where(s => s.Name == "vllm:request_success_total").Sum(s => s.Value));
        var exemplars = families.Where(f => f.Key.StartsWith("vllm:", StringComparison.Ordinal))
            .SelectMany(f => f.Value.Samples).Select(s => s.Exemplar).OfType<string>().ToArray();
        Assert.NotEmpty(exemplars);
        Assert.All(exemplars, exemplar =>
        {
            var requestId = traces.Keys.Single(id => exemplar.Contains($"request_id=\"{id}\"", StringComparison.Ordinal));
            Assert.Contains($"trace_id=\"{traces[requestId]}\"", exemplar);
        });
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
}
