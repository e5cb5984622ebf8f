using System.Globalization;
using System.Text.Json;
using MetricsContract;
using Tests.Support;

namespace Tests.Metrics;

/// <summary>
/// The metric tests read /metrics with the project's own parser (PrometheusText). Here the official Python client's
/// parser (Debian's prometheus_client, what CI installs) reads the same pages, a worker's with every optional family
/// group on and a gateway's, and must see exactly the samples ours sees: what the other tests assert is what a
/// Prometheus client reads.
/// </summary>
public class IndependentParserTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private const string SampleLister = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        print(json.dumps([{"name": s.name, "labels": s.labels, "value": format(s.value, ".17g")}
                          for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]))
        """;

    [Fact]
    public async Task PrometheusClientsOwnParser_ReadsEverySampleOfEveryFamilyGroup_AsTheTestsDo()
    {
        var python = RequiredTool.PythonWith("prometheus_client", "apt-get install -y python3-prometheus-client");
        await using var worker = await WorkerApp.StartOnKestrelAsync(
            ("Worker:SpeculativeConfig", """{"method":"ngram","num_speculative_tokens":2}"""),
            ("Worker:KvTransferConfig", PrefillDecodeWorkers.Config("kv_both")),
            ("Metrics:EnableMfuMetrics", "true"),
            ("Metrics:KvCacheMetrics", "true"),
            ("Metrics:KvCacheMetricsSample", "1"),
            ("Metrics:ShowHiddenMetricsForVersion", "0.1"));
        await using var gateway = await ServiceProcess.StartGatewayAsync($"--ReverseProxy:Clusters:workers:Destinations:w:Address={worker.Address}");
        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.Client.PostJsonAsync("/v1/completions", new { prompt = $"The river {i} ran and ran and ran", max_tokens = 12, ignore_eos = true });
            Assert.True(response.IsSuccessStatusCode);
        }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10));
        using var workerClient = worker.CreateClient();

        var groups = new HashSet<MetricGroup>();
        foreach (var client in new[] { workerClient, gateway.Client })
        {
            var page = await client.GetStringAsync("/metrics", Cancel);
            var (exitCode, output) = await Processes.RunPythonAsync(python, SampleLister, page);
            Assert.True(exitCode == 0, output);
            var theirs = JsonDocument.Parse(output).RootElement.EnumerateArray()
                .ToDictionary(s => Key(s.GetProperty("name").GetString()!, s.GetProperty("labels").EnumerateObject().Select(l => (l.Name, l.Value.GetString()!))),
                    s => ParseValue(s.GetProperty("value").GetString()!));
            var ours = PrometheusText.Parse(page).Values.SelectMany(f => f.Samples)
                .ToDictionary(s => Key(s.Name, s.Labels.Select(l => (l.Key, l.Value))), s => s.Value);

            Assert.Equal(theirs.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
            Assert.All(theirs, sample => Assert.True(sample.Value.Equals(ours[sample.Key]), $"{sample.Key}: {sample.Value} vs {ours[sample.Key]}"));
            groups.UnionWith(MetricCatalog.Families.Where(f => theirs.Keys.Any(k => k.StartsWith(f.ExposedName + "{", StringComparison.Ordinal)
                || k.StartsWith(f.ExposedName + "_", StringComparison.Ordinal))).Select(f => f.Group));
        }
        Assert.Equal(Enum.GetValues<MetricGroup>().Order(), groups.Order());
    }

    private static string Key(string name, IEnumerable<(string Name, string Value)> labels) =>
        name + "{" + string.Join(",", labels.OrderBy(l => l.Name, StringComparer.Ordinal).Select(l => $"{l.Name}={l.Value}")) + "}";

    private static double ParseValue(string value) => value switch
    {
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        "nan" => double.NaN,
        _ => double.Parse(value, CultureInfo.InvariantCulture),
    };
}
