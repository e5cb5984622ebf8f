using System.Text.Json;
using System.Text.RegularExpressions;
using ServiceDefaults.Metrics;
using Tests.Support;
using MetricsContract;

namespace Tests.AppHost;

/// <summary>The Grafana dashboards shipped with the AppHost query only series the catalog serves or the shipped rules record.</summary>
public partial class DashboardTests
{
    [GeneratedRegex(@"\b(vllm:[a-z0-9_]+|vellum_[a-z0-9_]+)")]
    private static partial Regex MetricName();

    /// <summary>A recording rule's name: level:metric:operations, the convention rules.yml follows.</summary>
    [GeneratedRegex(@"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b|\bvellum:[a-z0-9_]+\b")]
    private static partial Regex RecordedName();

    [GeneratedRegex(@"- record: (\S+)")]
    private static partial Regex RecordRule();

    public static TheoryData<string> Dashboards => new(Directory.GetFiles(Path.Combine(Repository.Root, "AppHost", "grafana", "dashboards"), "*.json").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void EveryQuery_NamesASeriesOfTheCatalog(string dashboard)
    {
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Root, "AppHost", "grafana", "dashboards", dashboard)));
        var expressions = json.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToArray();
        var served = MetricCatalog.Families.Where(f => f.Deprecated is null).SelectMany(Series).ToHashSet();
        var recorded = RecordRule().Matches(File.ReadAllText(Path.Combine(Repository.Root, "AppHost", "prometheus", "rules.yml"))).Select(m => m.Groups[1].Value).ToHashSet();

        Assert.NotEmpty(expressions);
        foreach (var name in expressions.SelectMany(e => RecordedName().Matches(e).Select(m => m.Value)))
        {
            Assert.True(recorded.Contains(name), $"{dashboard} queries {name}, which AppHost/prometheus/rules.yml does not record");
        }
        foreach (var name in expressions.SelectMany(e => MetricName().Matches(RecordedName().Replace(e, "")).Select(m => m.Value)))
        {
            Assert.True(served.Contains(name), $"{dashboard} queries {name}, which the catalog does not serve");
        }
    }

    private static IEnumerable<string> Series(MetricFamily family) => family.Kind == MetricKind.Histogram
        ? [family.Name + "_bucket", family.Name + "_sum", family.Name + "_count"]
        : [family.ExposedName];
}
