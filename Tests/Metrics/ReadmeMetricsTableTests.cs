using ServiceDefaults.Metrics;
using Tests.Support;
using MetricsContract;

namespace Tests.Metrics;

public class ReadmeMetricsTableTests
{
    private const string Start = "<!-- metrics-table:start (generated from MetricsContract/MetricCatalog.cs; VELLUM_UPDATE_DOCS=1 dotnet test rewrites it) -->";
    private const string End = "<!-- metrics-table:end -->";

    [Fact]
    public void ReadmeMetricsTable_IsTheCatalog()
    {
        var readme = Path.Combine(Repository.Root, "README.md");
        var text = File.ReadAllText(readme);
        var start = text.IndexOf(Start, StringComparison.Ordinal);
        var end = text.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "README.md lacks the metrics-table markers.");

        var expected = text[..(start + Start.Length)] + "\n" + CatalogMarkdown.Render() + text[end..];
        if (Environment.GetEnvironmentVariable("VELLUM_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(readme, expected);
        }
        Assert.Equal(expected, File.ReadAllText(readme));
    }
}
