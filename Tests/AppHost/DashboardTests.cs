using System.Text.Json;
using System.Text.RegularExpressions;
using ServiceDefaults.Metrics;
using Tests.Support;
using MetricsContract;

namespace Tests.AppHost;

/// <summary>The Grafana dashboards shipped with the AppHost query only series the catalog serves.</summary>
public partial class DashboardTests
{
    [GeneratedRegex(@"\b(vllm:[a-z0-9_]+|vellum_[a-z0-9_]+)")]
    private static partial Regex MetricName();

    public static TheoryData<string> Dashboards => new(Directory.GetFiles(Path.Combine(Repository.Root, "AppHost", "grafana", "dashboards"), "*.json").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Dashboards))]
    public void EveryQuery_NamesASeriesOfTheCatalog(string dashboard)
    {
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.Root, "AppHost", "grafana", "dashboards", dashboard)));
        var expressions = json.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToArray();
        var served = MetricCatalog.Families.Where(f => f.Deprecated is null).SelectMany(Series).ToHashSet();

        Assert.NotEmpty(expressions);
        foreach (var name in expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)))
        {
            Assert.True(served.Contains(name), $"{dashboard} queries {name}, which the catalog does not serve");
        }
    }

    private static IEnumerable<string> Series(MetricFamily family) => family.Kind == MetricKind.Histogram
        ? [family.Name + "_bucket", family.Name + "_sum", family.Name + "_count"]
        : [family.ExposedName];
}
