using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Tests.Support;

namespace Tests.Gateway;

/// <summary>
/// The gateway routes on the workers' own signals (polled /metrics and endpoint-load-metrics headers), falls back to
/// its own in-flight counts when they are stale, and keeps a chat's turns on the worker holding its prefix.
/// </summary>
public partial class GatewayRoutingTests(WorkerFixture worker)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static Task<ServiceProcess> WorkerAsync(string flags = "", params (string Name, string Value)[] environment) =>
        ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName} {flags}", environment);

    private static Task<ServiceProcess> GatewayAsync(string settings, params (string Name, ServiceProcess Worker)[] workers) =>
        ServiceProcess.StartGatewayAsync(string.Join(' ', workers.Select(w => $"--ReverseProxy:Clusters:workers:Destinations:{w.Name}:Address={w.Worker.Address}")) + " " + settings);

    [Fact]
    public async Task NewRequests_GoToTheIdleWorker_WhileTheOtherIsBusyWithDirectTraffic()
    {
        await using var busy = await WorkerAsync("--max-num-seqs 2", WorkerApp.DevMode);
        await using var idle = await WorkerAsync();
        await using var gateway = await GatewayAsync("", ("busy", busy), ("idle", idle));
        await using var held = await HoldBusyAsync(busy, gateway);

        for (var i = 0; i < 10; i++)
        {
            using var response = await gateway.Client.PostJsonAsync("/v1/completions", new { prompt = $"Routed {i}", max_tokens = 2 });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var served = await ServedAsync(gateway);
        Assert.Equal(10, served.GetValueOrDefault("idle"));
        Assert.Equal(0, served.GetValueOrDefault("busy"));
    }

    [Fact]
    public async Task WithStaleSignals_TheGatewayBalancesByItsOwnInFlightCounts()
    {
        await using var a = await WorkerAsync();
        await using var b = await WorkerAsync();
        // Polled once at start, stale 0.2 s later.
        await using var gateway = await GatewayAsync("--Routing:PollInterval=01:00:00 --Routing:StaleAfter=00:00:00.200", ("a", a), ("b", b));
        var readings = await Eventually.ReadUntilAsync(() => ReadingsAsync(gateway), r => r.Length == 2 && r.All(w => w.Stale), TimeSpan.FromSeconds(10));
        Assert.True(readings.Length == 2 && readings.All(w => w.Stale), "the gateway's one reading of each worker never went stale");

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            gateway.Client.PostJsonAsync("/v1/completions", new { prompt = $"Stale {i}", max_tokens = 24, ignore_eos = true })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var served = await ServedAsync(gateway);
        Assert.True(served.GetValueOrDefault("a") >= 3 && served.GetValueOrDefault("b") >= 3, $"a {served.GetValueOrDefault("a")}, b {served.GetValueOrDefault("b")}");
        var decisions = (await gateway.Client.MetricsAsync())["vellum_gateway_routing_decisions_total"];
        Assert.True(decisions.Value(("reason", "least_in_flight")) >= 6);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task TheTurnsOfAChat_GoToTheWorkerHoldingItsPrefix()
    {
        await using var a = await WorkerAsync();
        await using var b = await WorkerAsync();
        await using var gateway = await GatewayAsync("", ("a", a), ("b", b));
        var before = (await gateway.Client.MetricsAsync())["vellum_gateway_routing_decisions_total"].Value(("reason", "prefix"));

        for (var chat = 0; chat < 3; chat++)
        {
            var messages = new List<object>();
            for (var turn = 0; turn < 4; turn++)
            {
                messages.Add(new { role = "user", content = $"Chat {chat}, turn {turn}: tell me about the rivers, the mills and the bread of the valley." });
                using var response = await gateway.Client.PostJsonAsync("/v1/chat/completions", new { messages, max_tokens = 8, temperature = 0 });
                var answer = (await response.JsonAsync()).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
                messages.Add(new { role = "assistant", content = answer });
            }
        }

        var after = (await gateway.Client.MetricsAsync())["vellum_gateway_routing_decisions_total"].Value(("reason", "prefix"));
        Assert.Equal(3 * 3, after - before); // every turn after a chat's first
        var hits = await PrefixHitsAsync(a) + await PrefixHitsAsync(b);
        Assert.True(hits > 0, "the workers found none of the chats' prefixes in their caches");
    }

    [Fact]
    public async Task AWorkerReportsItsLoad_InTheEndpointLoadMetricsHeader_WhenAsked()
    {
        using var client = worker.CreateClient();
        async Task<string?> ReportAsync(string? format)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = JsonContent(new { prompt = "Load?", max_tokens = 1 }) };
            if (format is not null)
            {
                request.Headers.Add("endpoint-load-metrics-format", format);
            }
            using var response = await client.SendAsync(request, Cancel);
            return response.Headers.TryGetValues("endpoint-load-metrics", out var values) ? values.Single() : null;
        }

        var text = await ReportAsync("text");
        var json = await ReportAsync("json");

        Assert.Matches(OrcaText(), text!);
        Assert.StartsWith("JSON {\"named_metrics\":{\"kv_cache_usage_perc\":", json);
        Assert.Null(await ReportAsync(null));
    }

    [GeneratedRegex(@"^TEXT named_metrics\.kv_cache_usage_perc=[0-9.E-]+, named_metrics\.num_requests_waiting=\d+, named_metrics\.num_requests_running=\d+, named_metrics\.vellum_num_tokens_waiting=\d+, named_metrics\.vellum_num_uncached_tokens_waiting=\d+$")]
    private static partial Regex OrcaText();

    private static StringContent JsonContent(object body) => new(System.Text.Json.JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");

    /// <summary>
    /// Makes the worker busy with traffic the gateway never sees (two running, four waiting on --max-num-seqs 2), frozen
    /// there with vLLM's /pause?mode=keep for as long as the test needs on any machine, until the gateway's reading
    /// shows it; disposing resumes it and ends that traffic.
    /// </summary>
    private static async Task<IAsyncDisposable> HoldBusyAsync(ServiceProcess worker, ServiceProcess gateway)
    {
        var direct = Enumerable.Range(0, 6).Select(i => worker.Client.PostJsonAsync("/v1/completions",
            new { prompt = $"Direct {i}", max_tokens = 480, ignore_eos = true, stream = true })).ToArray();
        Assert.Equal(4, await Eventually.ReadUntilAsync(() => WaitingAsync(worker), n => n == 4, TimeSpan.FromSeconds(10)));
        using (var paused = await worker.Client.PostAsync("/pause?mode=keep", null, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        }
        var seen = await Eventually.ReadUntilAsync(() => ReadingAsync(gateway, worker), r => r is { Waiting: 4, Stale: false }, TimeSpan.FromSeconds(10));
        Assert.Equal((4, false), (seen?.Waiting, seen?.Stale));
        return new Resumes(worker, direct);
    }

    private sealed class Resumes(ServiceProcess worker, Task<HttpResponseMessage>[] direct) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            using (var resumed = await worker.Client.PostAsync("/resume", null, Cancel))
            {
                Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
            }
            foreach (var response in await Task.WhenAll(direct))
            {
                response.Dispose();
            }
        }
    }

    private static async Task<Dictionary<string, double>> ServedAsync(ServiceProcess gateway)
    {
        var metrics = await gateway.Client.MetricsUntilAsync(m => m.ContainsKey("vellum_gateway_requests_total"));
        return metrics["vellum_gateway_requests_total"].Samples.GroupBy(s => s.Labels["upstream"]).ToDictionary(g => g.Key, g => g.Sum(s => s.Value));
    }

    private static async Task<int> WaitingAsync(ServiceProcess worker) =>
        (await (await worker.Client.GetAsync("/engine/stats", Cancel)).JsonAsync()).GetProperty("waiting").GetInt32();

    /// <summary>The gateway's own view of each worker's load (GET /routing/loads).</summary>
    private static async Task<Reading[]> ReadingsAsync(ServiceProcess gateway) =>
        (await gateway.Client.GetFromJsonAsync<Reading[]>("/routing/loads", SnakeCase, Cancel))!;

    private static async Task<Reading?> ReadingAsync(ServiceProcess gateway, ServiceProcess worker) =>
        (await ReadingsAsync(gateway)).SingleOrDefault(r => new Uri(r.Address).Port == worker.Address.Port);

    private static readonly System.Text.Json.JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower };

    private sealed record Reading(string Address, double Waiting, double Running, double KvCacheUsage, double AgeMs, bool Stale);

    private static async Task<double> PrefixHitsAsync(ServiceProcess worker) =>
        (await worker.Client.MetricsAsync())["vllm:prefix_cache_hits_total"].Samples.Sum(s => s.Value);
}
