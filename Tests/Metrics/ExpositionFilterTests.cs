using System.Text;
using MetricsContract;
using ServiceDefaults.Metrics;

namespace Tests.Metrics;

/// <summary>
/// The byte-level edits a scrape gets on its way out: name[] keeps exactly the families asked for (by family or sample
/// name, as prometheus_client matches), line for line as the exporter wrote them; empty exemplars are cut; histograms
/// not yet observed are added at zero.
/// </summary>
public class ExpositionFilterTests
{
    private const string OpenMetricsPage = """
        # TYPE vllm:num_requests_waiting gauge
        # HELP vllm:num_requests_waiting Waiting.
        vllm:num_requests_waiting{engine="0",model_name="m"} 2
        # TYPE vllm:prompt_tokens counter
        # HELP vllm:prompt_tokens Prompt tokens.
        vllm:prompt_tokens_total{engine="0",model_name="m"} 7 # {request_id="cmpl-1"} 7 1795991504.4
        vllm:prompt_tokens_created{engine="0",model_name="m"} 1795991500.1
        # TYPE vllm:iteration_tokens_total histogram
        # HELP vllm:iteration_tokens_total Tokens per step.
        vllm:iteration_tokens_total_bucket{engine="0",model_name="m",le="1.0"} 0 # {} 1 1795991504.4
        vllm:iteration_tokens_total_bucket{engine="0",model_name="m",le="+Inf"} 3
        vllm:iteration_tokens_total_sum{engine="0",model_name="m"} 12
        vllm:iteration_tokens_total_count{engine="0",model_name="m"} 3
        # EOF

        """;

    [Fact]
    public void Filter_KeepsTheAskedFamiliesByFamilyOrSampleName_AndTheEndMarker()
    {
        var kept = Filter(OpenMetricsPage, "vllm:prompt_tokens_total", "vllm:iteration_tokens_total_count");

        var lines = OpenMetricsPage.Split('\n');
        Assert.Equal(string.Join('\n', lines[3..7].Concat(lines[7..13]).Append("# EOF").Append("")), kept);
    }

    [Fact]
    public void Filter_OfNothingThatExists_LeavesOnlyTheEndMarker_AndTextPagesHaveNone()
    {
        Assert.Equal("# EOF\n", Filter(OpenMetricsPage, "vllm:nothing"));
        var text = OpenMetricsPage.Replace("# EOF\n", "", StringComparison.Ordinal);
        Assert.Equal(string.Join('\n', text.Split('\n')[..3]) + "\n", Filter(text, "vllm:num_requests_waiting"));
    }

    [Fact]
    public void EmptyExemplars_AreCut_AndOthersKept()
    {
        var cut = Encoding.UTF8.GetString(Exposition.WithoutEmptyExemplars(Encoding.UTF8.GetBytes(OpenMetricsPage)).Span);

        Assert.Contains("vllm:iteration_tokens_total_bucket{engine=\"0\",model_name=\"m\",le=\"1.0\"} 0\n", cut);
        Assert.Contains("# {request_id=\"cmpl-1\"} 7 1795991504.4\n", cut);
        Assert.DoesNotContain("# {}", cut);
        Assert.Equal(OpenMetricsPage.Length - " # {} 1 1795991504.4".Length, cut.Length);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnUnobservedHistogram_IsAppendedAtZero_AsTheParsingPathServesIt_AndEofStaysLast(bool openMetrics)
    {
        var page = openMetrics ? OpenMetricsPage : OpenMetricsPage.Replace("# EOF\n", "", StringComparison.Ordinal);
        var family = MetricCatalog.StructuredOutputCompileTime;
        EagerHistogramSeries[] unobserved = [new(family, new Dictionary<string, string> { ["model_name"] = "m" }, [0.001, 0.5])];
        Assert.False(Exposition.HasFamily(Encoding.UTF8.GetBytes(page), unobserved[0]));

        var appended = Encoding.UTF8.GetString(Exposition.AppendZeroFamilies(Encoding.UTF8.GetBytes(page), unobserved, openMetrics).Span);

        var parsed = PrometheusText.Parse(appended);
        Assert.Equivalent(PrometheusText.Parse(Exposition.Rewrite(page, openMetrics, unobserved, names: null)), parsed, strict: true);
        Assert.Equal(["0.001", "0.5", "+Inf"], parsed[family.Name].Samples.Where(s => s.Name.EndsWith("_bucket")).Select(s => s.Labels["le"]));
        Assert.All(parsed[family.Name].Samples, sample => Assert.Equal(0, sample.Value));
        Assert.Equal(4, parsed.Count);
        Assert.Equal(openMetrics, appended.EndsWith("\n# EOF\n", StringComparison.Ordinal));
        Assert.True(Exposition.HasFamily(Encoding.UTF8.GetBytes(appended), unobserved[0]));
    }

    private static string Filter(string page, params string[] names) =>
        Encoding.UTF8.GetString(Exposition.Filter(Encoding.UTF8.GetBytes(page), names.ToHashSet()).Span);
}
