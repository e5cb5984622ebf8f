using System.Net;
using ServiceDefaults.Metrics;
using Tests.Support;
using C = MetricsContract.MetricCatalog;
using MetricsContract;

namespace Tests.Metrics;

/// <summary>/metrics against the catalog: every family vLLM dashboards query, with vLLM's names, types, labels and buckets.</summary>
public class MetricsExpositionTests(DedicatedWorkerFixture fixture) : IClassFixture<DedicatedWorkerFixture>
{
    private static readonly (string, string)[] Series = [(C.ModelName, WorkerApp.ModelName), (C.Engine, "0")];

    private static IEnumerable<MetricFamily> VllmFamilies() =>
        C.Families.Where(f => C.MeterOf(f) == C.VllmMeter && f.Condition == MetricCondition.Always && f.Deprecated is null);

    [Fact]
    public async Task EveryRegisteredFamily_IsServedFromStartUp_WithItsTypeLabelsAndBuckets()
    {
        using var client = fixture.Worker.CreateClient();
        var families = await client.MetricsAsync();

        foreach (var family in VllmFamilies())
        {
            Assert.True(families.TryGetValue(family.ExposedName, out var exposed), $"{family.ExposedName} is missing");
            Assert.Equal(family.Kind.ToString().ToLowerInvariant(), exposed.Type);
            Assert.NotEmpty(exposed.Samples);
            Assert.All(exposed.Samples.Where(s => !s.Name.EndsWith("_bucket", StringComparison.Ordinal)), s =>
                Assert.Equal(family.Labels.Order(StringComparer.Ordinal), s.Labels.Keys.Order(StringComparer.Ordinal)));
            foreach (var (label, values) in family.EnumeratedLabels)
            {
                Assert.Equal(values.Order(StringComparer.Ordinal), exposed.Samples.Select(s => s.Labels[label]).Distinct().Order(StringComparer.Ordinal));
            }
            if (family.Buckets is { } buckets)
            {
                Assert.Equal([.. buckets.Bounds(512), double.PositiveInfinity], exposed.BucketBounds());
            }
            Assert.DoesNotContain(exposed.Samples, s => s.Labels.ContainsKey("request_id"));
        }
        Assert.Equal("0", families["vllm:cache_config_info"].Samples.Single().Labels["engine"]);
    }

    [Fact]
    public void TokenBuckets_FollowVllms125Rule()
    {
        Assert.Equal([1, 2, 5, 10, 20, 50, 100, 200, 500], Buckets.OneTwoFive.Bounds(512));
        Assert.Equal([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000], Buckets.OneTwoFive.Bounds(4096));
        Assert.Equal([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000], Buckets.OneTwoFive.Bounds(131072));
    }

    [Fact]
    public async Task EnumeratedSeries_StartAtZero_AndNoScopeOrTargetInfoLeaks()
    {
        using var worker = await WorkerApp.StartAsync();
        using var client = worker.CreateClient();
        var text = await client.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        var families = PrometheusText.Parse(text);

        foreach (var reason in new[] { "stop", "length", "abort", "error", "repetition" })
        {
            Assert.Equal(0, families["vllm:request_success_total"].Value([.. Series, ("finished_reason", reason)]));
        }
        Assert.Equal(0, families["vllm:e2e_request_latency_seconds"].Of("_count", Series));
        Assert.Equal(1, families["vllm:engine_sleep_state"].Value([.. Series, ("sleep_state", "awake")]));
        Assert.DoesNotContain("otel_scope", text);
        Assert.DoesNotContain("target_info", text);
    }

    [Fact]
    public async Task NameFilter_ReturnsExactlyTheAskedFamilies()
    {
        using var client = fixture.Worker.CreateClient();

        var families = await client.MetricsAsync("?name[]=vllm:num_requests_waiting&name[]=vllm:kv_cache_usage_perc&name[]=vllm:prompt_tokens_total&name[]=vllm:e2e_request_latency_seconds_bucket");

        Assert.Equal(["vllm:e2e_request_latency_seconds", "vllm:kv_cache_usage_perc", "vllm:num_requests_waiting", "vllm:prompt_tokens_total"],
            families.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>A poll of load signals alone is answered by a collection of those alone (ServiceDefaults' RouterView): the same series, the same values.</summary>
    [Fact]
    public async Task ARoutersPollOfLoadSignals_AnswersWhatTheFullPageSays()
    {
        using var client = fixture.Worker.CreateClient();
        var asked = C.LoadSignals.Where(f => f.Condition == MetricCondition.Always && f.Deprecated is null).Select(f => f.ExposedName).ToArray();

        var polled = await client.MetricsAsync("?" + string.Join('&', asked.Select(name => "name[]=" + Uri.EscapeDataString(name))));
        var full = await client.MetricsAsync();

        Assert.Equal(asked.Order(StringComparer.Ordinal), polled.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, family) in polled)
        {
            Assert.Equal(full[name].Type, family.Type);
            Assert.Equal(Series(full[name]), Series(family));
        }
        static string[] Series(Family family) => family.Samples
            .Select(s => s.Name + "{" + string.Join(',', s.Labels.OrderBy(l => l.Key).Select(l => $"{l.Key}={l.Value}")) + "} " + s.Value).Order().ToArray();
    }

    [Fact]
    public async Task NameFilter_InOpenMetrics_KeepsTheEndMarker()
    {
        using var client = fixture.Worker.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics?name[]=vllm:num_requests_running");
        request.Headers.Accept.ParseAdd("application/openmetrics-text");
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.StartsWith("application/openmetrics-text", response.Content.Headers.ContentType?.ToString());
        Assert.EndsWith("# EOF\n", text);
        Assert.Equal(["vllm:num_requests_running"], PrometheusText.Parse(text).Keys);
    }

    [Fact]
    public async Task DisableLogStats_RegistersNoEngineFamilies_ButServesTheRest()
    {
        using var worker = await WorkerApp.StartAsync(("Metrics:DisableLogStats", "true"));
        using var client = worker.CreateClient();
        using var _ = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 3 });

        // ASP.NET Core records a request's duration when the host disposes it, a moment after the response.
        static bool HasRequestDurations(Dictionary<string, Family> families) =>
            families.Keys.Any(name => name.StartsWith("http_server_request_duration", StringComparison.Ordinal));
        var families = await client.MetricsUntilAsync(HasRequestDurations);

        Assert.DoesNotContain(families.Keys, name => name.StartsWith("vllm:", StringComparison.Ordinal));
        Assert.True(HasRequestDurations(families));
    }
}
