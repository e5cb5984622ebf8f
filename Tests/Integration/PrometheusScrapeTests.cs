using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Aspire.Hosting.Testing;
using Tests.Support;

namespace Tests.Integration;

/// <summary>A real Prometheus server (Debian's package) scraping the running workers.</summary>
[Collection(nameof(AppHostCollection))]
public class PrometheusScrapeTests(AppHostFixture system)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Prometheus_ScrapesTheWorkers_AndHistogramQuantileOverTtftReturnsAValue()
    {
        var prometheusBinary = RequiredTool.Find("prometheus", "apt-get install -y prometheus");
        await using var prometheus = await PrometheusServer.StartAsync(prometheusBinary, PrometheusServer.Targets(system, "worker0", "worker1"));

        using var gateway = system.CreateClient("gateway");
        for (var i = 0; i < 8; i++)
        {
            using var response = await gateway.PostJsonAsync("/v1/completions", new { prompt = "The river ran", max_tokens = 10, ignore_eos = true });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var quantile = await prometheus.QueryUntilAsync(
            "histogram_quantile(0.9, sum by (le) (vllm:time_to_first_token_seconds_bucket))",
            result => result.GetArrayLength() == 1 && double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(1, quantile.GetArrayLength());

        var up = await prometheus.QueryUntilAsync("up", result => result.GetArrayLength() == 2 && result.EnumerateArray().All(r => r.GetProperty("value")[1].GetString() == "1"));
        Assert.Equal(2, up.GetArrayLength());
    }
}

[Collection(nameof(AppHostCollection))]
public class PrometheusExemplarTests(AppHostFixture system)
{
    [Fact]
    public async Task Prometheus_StoresExemplars_ThatNameTheRequestAndItsTrace()
    {
        var prometheusBinary = RequiredTool.Find("prometheus", "apt-get install -y prometheus");
        await using var prometheus = await PrometheusServer.StartAsync(prometheusBinary, PrometheusServer.Targets(system, "worker0", "worker1"), "--enable-feature=exemplar-storage");

        using var gateway = system.CreateClient("gateway");
        var traceId = ActivityTraceId.CreateRandom().ToString();
        var requestId = "prom-" + Guid.NewGuid().ToString("N")[..12];
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { prompt = "The ship left the harbour", max_tokens = 8 }), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Request-Id", requestId);
        // The test's own span: HttpClient propagates it as traceparent (a header set by hand would be replaced).
        using var span = new Activity("client-request").SetParentId(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start();
        using (var response = await gateway.SendAsync(request, TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var series = await prometheus.QueryUntilAsync("vllm:e2e_request_latency_seconds_bucket",
            result => FindExemplar(result, "cmpl-" + requestId) is not null,
            $"/api/v1/query_exemplars?start={now - 600}&end={now + 600}");

        var exemplar = FindExemplar(series, "cmpl-" + requestId)!.Value;
        Assert.Equal(traceId, exemplar.GetProperty("labels").GetProperty("trace_id").GetString());
    }

    private static JsonElement? FindExemplar(JsonElement series, string requestId) =>
        series.EnumerateArray().SelectMany(s => s.GetProperty("exemplars").EnumerateArray())
            .Select(e => (JsonElement?)e)
            .FirstOrDefault(e => e!.Value.GetProperty("labels").TryGetProperty("request_id", out var id) && id.GetString() == requestId);
}

/// <summary>A Prometheus process with a scrape job for the given targets, on a free loopback port.</summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly HttpClient _http;

    private PrometheusServer(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    /// <summary>Resources' http endpoints as a YAML list of host:port targets.</summary>
    public static string Targets(AppHostFixture system, params string[] resources) =>
        string.Join(", ", resources.Select(r => system.App.GetEndpoint(r, "http")).Select(u => $"'{u.Host}:{u.Port}'"));

    /// <param name="rules">Recording rules and alerts to evaluate every second, as YAML; none when null.</param>
    public static async Task<PrometheusServer> StartAsync(string binary, string targets, string extraArguments = "", string? rules = null)
    {
        var directory = Directory.CreateDirectory(TestFolders.New("prometheus")).FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        if (rules is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "rules.yml"), rules);
        }
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            {(rules is null ? "" : "rule_files: [rules.yml]")}
            scrape_configs:
              - job_name: worker
                scrape_interval: 1s
                static_configs:
                  - targets: [{targets}]
            """);
        var port = Processes.FreeTcpPort();
        var start = new ProcessStartInfo(binary,
            $"--config.file={config} --storage.tsdb.path={Path.Combine(directory, "data")} --web.listen-address=127.0.0.1:{port} {extraArguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, directory, port);
        var ready = await Eventually.ReadUntilAsync(async () =>
        {
            try
            {
                using var response = await server._http.GetAsync("/-/ready");
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, ready => ready || process.HasExited, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        Assert.True(ready, "Prometheus did not become ready within 30 s.");
        return server;
    }

    /// <summary>Runs an instant query until its result satisfies the condition (Prometheus scrapes every second).</summary>
    public async Task<JsonElement> QueryUntilAsync(string query, Func<JsonElement, bool> satisfied, string path = "/api/v1/query")
    {
        var separator = path.Contains('?') ? "&" : "?";
        var (body, result) = await Eventually.ReadUntilAsync(async () =>
        {
            var text = await _http.GetStringAsync($"{path}{separator}query={Uri.EscapeDataString(query)}");
            var data = JsonDocument.Parse(text).RootElement.GetProperty("data");
            return (Body: text, Result: data.ValueKind == JsonValueKind.Array ? data : data.GetProperty("result"));
        }, reading => satisfied(reading.Result), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));
        Assert.True(satisfied(result), $"'{query}' never gave the expected result; last: {body}");
        return result;
    }

    /// <summary>The alerts Prometheus holds now (GET /api/v1/alerts): name, state (pending or firing) and labels.</summary>
    public async Task<IReadOnlyList<(string Name, string State, Dictionary<string, string> Labels)>> AlertsAsync()
    {
        var alerts = JsonDocument.Parse(await _http.GetStringAsync("/api/v1/alerts")).RootElement.GetProperty("data").GetProperty("alerts");
        return alerts.EnumerateArray().Select(alert =>
        {
            var labels = alert.GetProperty("labels").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString()!);
            return (labels["alertname"], alert.GetProperty("state").GetString()!, labels);
        }).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await Processes.StopAsync(_process);
        Directory.Delete(_directory, recursive: true);
    }
}
