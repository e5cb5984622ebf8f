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
        // Rewriting is a chore the run does for you, never a pass: a README that was out of date still fails this run.
        if (text != expected && Environment.GetEnvironmentVariable("VELLUM_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(readme, expected);
            Assert.Fail("README.md's metrics table was out of date and has been rewritten from the catalog; review and commit it.");
        }
        Assert.Equal(expected, text);
    }
}
