using System.Diagnostics;
using System.Text.RegularExpressions;
using Tests.Support;

namespace Tests.Integration;

/// <summary>
/// The alerts that ship with the deployment, evaluated by a real Prometheus over live workers: a saturated worker and
/// a killed one raise exactly their alerts, which resolve when the worker drains or comes back (the queued requests'
/// late first tokens burn the TTFT SLO's budget, and that alert fires too); and the autoscaling
/// queries the README gives return data. The shipped rules are used as they are, but for their hold times ("for:"),
/// cut to 2 s so the test takes seconds instead of minutes; promtool's unit tests check the real hold times.
/// </summary>
public partial class AlertingTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static readonly string[] SloBurns = ["VellumTtftSloFastBurn", "VellumTtftSloSlowBurn"];

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<string> _timeline = [];

    [GeneratedRegex(@"(?m)^(\s+for: )\S+$")]
    private static partial Regex HoldTime();

    [GeneratedRegex(@"(?m)^\s+query: '([^']+)'")]
    private static partial Regex ReadmeQuery();

    [Fact]
    public async Task ASaturatedWorker_AndAKilledOne_FireTheirAlerts_WhichResolveWhenTheyRecover()
    {
        var prometheusBinary = RequiredTool.Find("prometheus", "apt-get install -y prometheus");
        var arguments = $"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}";
        await using var busy = await ServiceProcess.StartWorkerAsync(arguments, WorkerApp.DevMode);
        await using var other = await ServiceProcess.StartWorkerAsync(arguments);
        var otherPort = other.Address.Port;
        var rules = HoldTime().Replace(await File.ReadAllTextAsync(Path.Combine(Repository.Root, "AppHost", "prometheus", "rules.yml"), Cancel), "${1}2s");
        await using var prometheus = await PrometheusServer.StartAsync(prometheusBinary, $"'{Target(busy)}', '{Target(other)}'", rules: rules);
        await prometheus.QueryUntilAsync("up{job=\"worker\"} == 1", result => result.GetArrayLength() == 2);
        Mark("both workers scraped");
        Assert.Empty(await prometheus.AlertsAsync());

        // Saturate one: its engine paused (vLLM's /pause?mode=keep), seven requests queue behind it.
        (await busy.Client.PostAsync("/pause?mode=keep", null, Cancel)).EnsureSuccessStatusCode();
        var queuedAt = Stopwatch.StartNew();
        var queued = Enumerable.Range(0, 7).Select(i => busy.Client.PostJsonAsync("/v1/completions", new { prompt = $"Queued {i}", max_tokens = 2 })).ToArray();
        Mark("7 requests queued on the busy worker");
        var saturated = await FiringAsync(prometheus, "VellumQueueSaturated", firing => firing.Count == 1);
        Mark("VellumQueueSaturated firing");
        Assert.Equal(Target(busy), saturated.Single()["instance"]);
        Assert.Equal(["VellumQueueSaturated"], (await prometheus.AlertsAsync()).Select(a => a.Name).Distinct());

        // The README's autoscaling queries read the same signals.
        var readme = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "README.md"), Cancel);
        var queries = ReadmeQuery().Matches(readme).Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(2, queries.Length);
        var waiting = await prometheus.QueryUntilAsync(queries[0], result => result.GetArrayLength() == 1);
        Assert.Equal("7", waiting[0].GetProperty("value")[1].GetString());
        var tokens = await prometheus.QueryUntilAsync(queries[1], result => result.GetArrayLength() == 1);
        Assert.True(double.Parse(tokens[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Mark($"autoscaling queries answer: {queries[0]} = 7, {queries[1]} = {tokens[0].GetProperty("value")[1].GetString()}");

        // Held until they are surely past the SLO's 2.5 s to a first token (their TTFT is the condition here, and it is time).
        await Task.Delay(TimeSpan.FromSeconds(3.5) - queuedAt.Elapsed is { Ticks: > 0 } rest ? rest : TimeSpan.Zero, Cancel);
        (await busy.Client.PostAsync("/resume", null, Cancel)).EnsureSuccessStatusCode();
        foreach (var response in await Task.WhenAll(queued))
        {
            response.EnsureSuccessStatusCode();
        }
        Mark("resumed; the 7 requests answered");
        await FiringAsync(prometheus, "VellumQueueSaturated", firing => firing.Count == 0);
        Mark("VellumQueueSaturated resolved");
        // Those 7 waited seconds for their first token, past the SLO's 2.5 s: every request of every window missed it, so
        // both burn rates are past their thresholds (a deployment's Alertmanager inhibits the ticket while the page fires).
        foreach (var burn in SloBurns)
        {
            Assert.Equal(WorkerApp.ModelName, (await FiringAsync(prometheus, burn, firing => firing.Count == 1)).Single()["model_name"]);
        }
        Mark("VellumTtftSloFastBurn and VellumTtftSloSlowBurn firing (the queued requests' TTFT was over 2.5 s)");

        // Kill the other: Prometheus cannot scrape it.
        other.Kill();
        Mark("the other worker killed");
        var down = await FiringAsync(prometheus, "VellumWorkerDown", firing => firing.Count == 1);
        Mark("VellumWorkerDown firing");
        Assert.Equal($"127.0.0.1:{otherPort}", down.Single()["instance"]);
        Assert.Equal([.. SloBurns, "VellumWorkerDown"], (await prometheus.AlertsAsync()).Select(a => a.Name).Distinct().Order());

        await using var restarted = await ServiceProcess.StartTinyWorkerAsync(otherPort);
        Mark("the other worker restarted on its port");
        await FiringAsync(prometheus, "VellumWorkerDown", firing => firing.Count == 0);
        Mark("VellumWorkerDown resolved");
        // The burns stay until the slow requests leave their windows (5 minutes for the shortest).
        Assert.Equal(SloBurns, (await prometheus.AlertsAsync()).Select(a => a.Name).Distinct().Order());
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join('\n', _timeline));
    }

    /// <summary>Polls Prometheus's alerts until the named alert's firing instances satisfy the condition.</summary>
    private async Task<IReadOnlyList<Dictionary<string, string>>> FiringAsync(PrometheusServer prometheus, string alert, Func<IReadOnlyList<Dictionary<string, string>>, bool> condition)
    {
        var firing = await Eventually.ReadUntilAsync(
            async () => (IReadOnlyList<Dictionary<string, string>>)(await prometheus.AlertsAsync()).Where(a => a.Name == alert && a.State == "firing").Select(a => a.Labels).ToArray(),
            condition, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
        Assert.True(condition(firing), $"{alert}: {firing.Count} firing; timeline:\n{string.Join('\n', _timeline)}");
        return firing;
    }

    private void Mark(string what) => _timeline.Add($"{_clock.Elapsed.TotalSeconds,6:F1} s  {what}");

    private static string Target(ServiceProcess worker) => $"{worker.Address.Host}:{worker.Address.Port}";
}
