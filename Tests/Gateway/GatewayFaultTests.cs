using System.Diagnostics;
using System.Net;
using Tests.Support;

namespace Tests.Gateway;

/// <summary>
/// A worker dying under load, as an operator sees it through the gateway: streams it was serving end with an
/// OpenAI-style error event (never silently), requests that had not started are served by the other worker without
/// waiting on the dead one, and a worker that comes back gets traffic again.
/// </summary>
public class GatewayFaultTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>The gateway's health settings, short enough for a test: probed every second, a failed worker out for 2 s.</summary>
    private static string GatewayArguments(params (string Name, ServiceProcess Worker)[] workers) =>
        string.Join(' ', workers.Select(w => $"--ReverseProxy:Clusters:workers:Destinations:{w.Name}:Address={w.Worker.Address}"))
        + " --ReverseProxy:Clusters:workers:HealthCheck:Active:Interval=00:00:01"
        + " --ReverseProxy:Clusters:workers:HealthCheck:Passive:ReactivationPeriod=00:00:02";

    [Fact]
    public async Task AWorkerKilledUnderLoad_EndsItsStreamsWithAnErrorEvent_AndTheOtherServesWhatFollows()
    {
        await using var a = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}", WorkerApp.DevMode);
        await using var b = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}");
        await using var gateway = await ServiceProcess.StartGatewayAsync(GatewayArguments(("a", a), ("b", b)));
        // Worker a's /pause and /resume answered once first: their first call compiles the endpoints, for longer than the
        // tiny model takes to finish a stream.
        await PauseAsync(a);
        (await a.Client.PostAsync("/resume", null, Cancel)).Dispose();
        var firstEvents = Enumerable.Range(0, 6).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var streams = Enumerable.Range(0, 6).Select(i => StreamAsync(gateway.Client, $"Stream {i} tells of rivers.", firstEvents[i])).ToArray();
        // As soon as worker a is seen running streams it runs no further step (vLLM's /pause?mode=keep), so they are still
        // open when it dies: the tiny model finishes a whole stream within a fraction of a second, less than the spread of
        // the six streams' starts, so waiting for every stream to start first would let a's finish.
        var seen = await Eventually.ReadUntilAsync(() => RunningAsync(a), running => running > 0, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(1));
        Assert.True(seen > 0, "the gateway gave worker a none of the six streams");
        await PauseAsync(a);
        Assert.True(await RunningAsync(a) > 0, "worker a finished its streams between being seen running them and the pause: nothing left to break");
        // Every stream has started (its first bytes reached the client, so no retry can save it) or waits in paused a's queue.
        var accounted = await Eventually.ReadUntilAsync(async () => firstEvents.Count(e => e.Task.IsCompleted) + (await StatsAsync(a)).GetProperty("waiting").GetInt32(),
            count => count == firstEvents.Length, TimeSpan.FromSeconds(20));
        Assert.Equal(firstEvents.Length, accounted);
        a.Kill();
        var ends = await Task.WhenAll(streams);

        // Every stream ends visibly: [DONE] when its worker lived, an error event when it died under it.
        Assert.All(ends, end => Assert.True(end.Last == "[DONE]" || end.Last.Contains("\"error\"", StringComparison.Ordinal), $"a stream ended with: {end.Last}"));
        Assert.Contains(ends, end => end.Last.Contains("upstream_stream_broken", StringComparison.Ordinal));
        Assert.Contains(ends, end => end.Last == "[DONE]");

        // What follows is served, by the worker left, none waiting on the dead one.
        var clock = Stopwatch.StartNew();
        var followers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await gateway.Client.PostJsonAsync("/v1/completions", new { prompt = $"After {i}", max_tokens = 4 });
            await response.Content.ReadAsStringAsync(Cancel);
            return (response.StatusCode, Stopwatch.GetElapsedTime(started));
        }));
        Assert.All(followers, f => Assert.Equal(HttpStatusCode.OK, f.StatusCode));
        Assert.True(followers.Max(f => f.Item2) < TimeSpan.FromSeconds(5), $"the slowest request took {followers.Max(f => f.Item2).TotalSeconds:F1} s");
        var metrics = await gateway.Client.MetricsAsync();
        Assert.True(metrics["vellum_gateway_broken_streams_total"].Samples.Sum(s => s.Value) >= 1);
    }

    [Fact]
    public async Task AWorkerThatComesBack_GetsTrafficAgain()
    {
        await using var a = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}");
        await using var b = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}");
        await using var gateway = await ServiceProcess.StartGatewayAsync(GatewayArguments(("a", a), ("b", b)));
        var port = a.Address.Port;
        a.Kill();
        for (var i = 0; i < 6; i++)
        {
            using var response = await gateway.Client.PostJsonAsync("/v1/completions", new { prompt = "While a is down", max_tokens = 2 });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        // The gateway says how many workers it can route to, which alerting reads (VellumGatewayNoAvailableWorker at zero).
        Assert.Equal(1, AvailableWorkers(await gateway.Client.MetricsUntilAsync(m => AvailableWorkers(m) == 1)));

        await using var restarted = await ServiceProcess.StartTinyWorkerAsync(port);
        var served = await Eventually.ReadUntilAsync(async () =>
        {
            using var response = await gateway.Client.PostJsonAsync("/v1/completions", new { prompt = "Back?", max_tokens = 2 });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await StepsAsync(restarted);
        }, steps => steps > 0, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(200));
        Assert.True(served > 0, "the restarted worker got no request through the gateway");
        Assert.Equal(2, AvailableWorkers(await gateway.Client.MetricsUntilAsync(m => AvailableWorkers(m) == 2)));
    }

    private static double AvailableWorkers(Dictionary<string, Family> metrics) =>
        metrics["vellum_gateway_available_workers"].Value(("cluster", "workers"));

    [Fact]
    public async Task ARequestAWorkerRefusesWhileGoingDown_IsServedByAnotherWorker()
    {
        await using var a = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}", WorkerApp.DevMode);
        await using var b = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}");
        await using var gateway = await ServiceProcess.StartGatewayAsync(GatewayArguments(("a", a), ("b", b)));
        // Asleep, a answers every generation request 503 (engine_sleeping), as a worker going down does.
        using (var sleep = await a.Client.PostAsync("/sleep?level=1", null, Cancel))
        {
            Assert.True(sleep.IsSuccessStatusCode);
        }

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await gateway.Client.PostJsonAsync("/v1/completions", new { prompt = $"Request {i}", max_tokens = 2, stream = i % 2 == 0 });
            await response.Content.ReadAsStringAsync(Cancel);
            statuses.Add(response.StatusCode);
        }

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        var metrics = await gateway.Client.MetricsAsync();
        Assert.True(metrics["vellum_gateway_retries_total"].Value(("upstream", "a")) >= 1);
        Assert.DoesNotContain(metrics["vellum_gateway_retries_total"].Samples, s => s.Labels["upstream"] == "b");
    }

    /// <summary>Streams 480 tokens (as many as the tiny model's context leaves); returns the last event's data.</summary>
    private static async Task<(string Last, int Events)> StreamAsync(HttpClient gateway, string prompt, TaskCompletionSource firstEvent)
    {
        using var response = await gateway.PostJsonAsync("/v1/completions", new { prompt, max_tokens = 480, ignore_eos = true, stream = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        try
        {
            while (await reader.ReadLineAsync(Cancel) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    events.Add(line["data: ".Length..]);
                    firstEvent.TrySetResult();
                }
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            events.Add($"(the connection broke: {e.Message})");
        }
        return (events.LastOrDefault() ?? "(nothing)", events.Count);
    }

    private static async Task<System.Text.Json.JsonElement> StatsAsync(ServiceProcess worker) =>
        await (await worker.Client.GetAsync("/engine/stats", Cancel)).JsonAsync();


    private static async Task PauseAsync(ServiceProcess worker)
    {
        using var paused = await worker.Client.PostAsync("/pause?mode=keep", null, Cancel);
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
    }

    private static async Task<int> RunningAsync(ServiceProcess worker) => (await StatsAsync(worker)).GetProperty("running").GetInt32();

    private static async Task<long> StepsAsync(ServiceProcess worker) => (await StatsAsync(worker)).GetProperty("steps").GetInt64();
}
