using Tests.Support;

namespace Tests.Metrics;

public class PromtoolTests(DedicatedWorkerFixture fixture) : IClassFixture<DedicatedWorkerFixture>
{
    /// <summary>
    /// The catalog's families get exactly the lints vLLM's own output gets: the colon in every name, and the
    /// "_total" of the histogram vLLM named vllm:iteration_tokens_total. (.NET runtime metrics, named by
    /// OpenTelemetry's conventions, also get "_count" lints; they are not vLLM's and not checked here.)
    /// </summary>
    [Fact]
    public async Task PromtoolCheckMetrics_FindsOnlyTheLintsVllmsOwnOutputGets()
    {
        var promtool = RequiredTool.Find("promtool", "apt-get install -y prometheus");
        using var client = fixture.Worker.CreateClient();
        using var _ = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 5, n = 2 });
        var catalog = string.Join('&', MetricsContract.MetricCatalog.Families.Select(f => "name[]=" + Uri.EscapeDataString(f.ExposedName)));
        var scrape = await client.GetStringAsync("/metrics?" + catalog, TestContext.Current.CancellationToken);

        var (exitCode, output) = await Processes.RunAsync(promtool, "check metrics", scrape);

        var findings = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("vllm:num_requests_running metric names should not contain ':'", findings);
        Assert.All(findings, finding => Assert.Matches(
            @"^(vllm:\S+ metric names should not contain ':'|vllm:iteration_tokens_total non-counter metrics should not have ""_total"" suffix)$", finding));
        Assert.Equal(3, exitCode); // lint findings only: the text parsed
    }
}
