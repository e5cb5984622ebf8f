using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Tests.Support;

namespace Tests.AppHost;

/// <summary>
/// The recording rules and alerts that ship with the deployment (AppHost/prometheus/rules.yml): each alert fires when
/// it should and stays quiet when it should not (promtool's unit tests), has a runbook line, and the TTFT SLO is a
/// setting that must name a bucket bound.
/// </summary>
public partial class AlertRulesTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "AppHost", "prometheus");

    [GeneratedRegex(@"^\s+- alert: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex AlertName();

    private static string[] Alerts() => AlertName().Matches(File.ReadAllText(Path.Combine(Folder, "rules.yml"))).Select(m => m.Groups[1].Value).ToArray();

    [Fact]
    public async Task PromtoolsUnitTests_Pass()
    {
        var promtool = RequiredTool.Find("promtool", "apt-get install -y prometheus");

        var (exitCode, output) = await Processes.RunAsync(promtool, $"test rules \"{Path.Combine(Folder, "rules.test.yml")}\"");

        Assert.True(exitCode == 0, output);
        Assert.Contains("SUCCESS", output);
    }

    [Fact]
    public void EveryAlert_HasAUnitTestWhereItFires_AndARunbookLine()
    {
        var tests = File.ReadAllText(Path.Combine(Folder, "rules.test.yml"));
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));

        Assert.Equal(9, Alerts().Length);
        Assert.All(Alerts(), alert =>
        {
            Assert.Matches($@"alertname: {alert}\n\s+exp_alerts:\n\s+- exp_labels", tests);
            Assert.Contains($"<a id=\"{alert.ToLowerInvariant()}\"></a>**{alert}**", readme);
        });
    }

    [GeneratedRegex(@"^\s+- record: (\S+)$", RegexOptions.Multiline)]
    private static partial Regex RecordName();

    [Fact]
    public void EveryRecordingRule_HasAUnitTestOfItsValue()
    {
        var tests = File.ReadAllText(Path.Combine(Folder, "rules.test.yml"));
        var records = RecordName().Matches(File.ReadAllText(Path.Combine(Folder, "rules.yml"))).Select(m => m.Groups[1].Value).ToArray();

        Assert.Equal(22, records.Length);
        Assert.All(records, record => Assert.Matches($@"- expr: {Regex.Escape(record)}(\{{[^}}]*\}})?\n\s+eval_time: \S+\n\s+exp_samples:\n\s+- labels: '{Regex.Escape(record)}", tests));
    }

    [Fact]
    public void TheTtftSlo_IsASetting_CountedAtItsBucketBound()
    {
        var rules = global::AppHost.AlertRules.Generate(Settings(("Slo:TtftSeconds", "1"), ("Slo:TtftObjective", "0.995")));

        // Scraped as OpenMetrics (Prometheus asks for it), the bound 1 is stored as le="1.0".
        Assert.Contains("rate(vllm:time_to_first_token_seconds_bucket{le=\"1.0\"}[1h])", rules);
        Assert.Contains("model_name:vellum_ttft_slo_errors:ratio_rate1h > (14.4 * 0.005)", rules);
        Assert.Contains("expr: vector(0.995)", rules);
    }

    [Fact]
    public void ATtftThresholdThatIsNotABucketBound_IsRefused_SayingHowToAddIt()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => global::AppHost.AlertRules.Generate(Settings(("Slo:TtftSeconds", "3"))));

        Assert.Contains("Slo:TtftSeconds=3 is not a bound of vllm:time_to_first_token_seconds", refused.Message);
        Assert.Contains("time_to_first_token", refused.Message);
        // --custom-histogram-buckets (Metrics:CustomHistogramBuckets) adds the bound, and the workers get the same setting.
        var rules = global::AppHost.AlertRules.Generate(Settings(("Slo:TtftSeconds", "3"), ("Metrics:CustomHistogramBuckets", "{\"time_to_first_token\":[0.5,1,3,10]}")));
        Assert.Contains("le=\"3.0\"", rules);
    }

    [Fact]
    public async Task GeneratedRulesWithOtherSettings_StillPassPromtoolsCheck()
    {
        var promtool = RequiredTool.Find("promtool", "apt-get install -y prometheus");
        var file = Path.Combine(TestFolders.New("rules"), "rules.yml");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, global::AppHost.AlertRules.Generate(Settings(("Slo:TtftSeconds", "0.5"), ("Slo:TtftObjective", "0.9"))), TestContext.Current.CancellationToken);

        var (exitCode, output) = await Processes.RunAsync(promtool, $"check rules \"{file}\"");

        Assert.True(exitCode == 0, output);
    }

    private static IConfiguration Settings(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
}
