using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Hosting;

/// <summary>The sleep endpoints exist only in vLLM's dev mode, as in vLLM.</summary>
public class SleepEndpointsTests(WorkerFixture worker)
{
    [Theory]
    [InlineData("POST", "/sleep?level=1")]
    [InlineData("POST", "/wake_up")]
    [InlineData("GET", "/is_sleeping")]
    public async Task WithoutDevMode_NoClientCanPutTheWorkerToSleep(string method, string path)
    {
        using var client = worker.CreateClient();
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(worker.Services.GetRequiredService<global::Worker.Hosting.EngineHost>().IsSleeping);
    }
}

/// <summary>Sleep under load: requests in flight end with a clear error and are counted; requests racing it never get a 500.</summary>
public class SleepUnderLoadTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static readonly (string, string)[] Series = [("model_name", WorkerApp.ModelName), ("engine", "0")];

    [Fact]
    public async Task RequestsRunningWhenSleepBegins_EndWithEngineSleeping_AndCountAsAborts()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();

        using var streamed = await client.PostJsonAsync("/v1/completions", new { prompt = "The long road", max_tokens = 480, n = 4, ignore_eos = true, stream = true });
        var reading = Sse.ReadAllAsync(streamed, Cancel);
        var whole = client.PostJsonAsync("/v1/completions", new { prompt = "Another long road", max_tokens = 480, n = 4, ignore_eos = true });
        await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot.Running, running => running == 8, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));

        using (var slept = await client.PostAsync("/sleep?level=2", null, Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, slept.StatusCode);
        }

        var events = await reading;
        var error = Assert.Single(events, e => !e.IsDone && e.Json.TryGetProperty("error", out _)).Json.GetProperty("error");
        Assert.Equal("engine_sleeping", error.GetProperty("code").GetString());
        Assert.True(events[^1].IsDone);
        using var refused = await whole;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("engine_sleeping", (await refused.JsonAsync()).GetProperty("error").GetProperty("code").GetString());
        var metrics = await client.MetricsAsync();
        Assert.Equal(8, metrics["vllm:request_success_total"].Value([.. Series, ("finished_reason", "abort")]));
        Assert.Equal(0, metrics["vellum_worker_unhandled_errors_total"].Value());
    }

    [Fact]
    public async Task RequestsRacingSleepAndWakeUp_GetAnAnswerOrEngineSleeping_NeverA500()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();
        using var stop = new CancellationTokenSource();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode Status, string? Code)>();

        async Task SendUntilStoppedAsync(int client_)
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var chat = (client_ + i) % 2 == 0;
                using var response = chat
                    ? await client.PostJsonAsync("/v1/chat/completions", new { messages = new[] { new { role = "user", content = $"Hello {i}" } }, max_tokens = 8, stop = new[] { "zz" } })
                    : await client.PostJsonAsync("/v1/completions", new { prompt = $"Once {i}", max_tokens = 8, n = 2 });
                var body = await response.Content.ReadAsStringAsync(Cancel);
                var code = response.IsSuccessStatusCode ? null : JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString();
                statuses.Add((response.StatusCode, code));
            }
        }

        var senders = Enumerable.Range(0, 4).Select(SendUntilStoppedAsync).ToArray();
        for (var cycle = 0; cycle < 3; cycle++)
        {
            // Each state is observed, not waited for: asleep, a request is refused; awake again, one is served.
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/sleep?level={1 + cycle % 2}", null, Cancel)).StatusCode);
            using (var asleep = await client.PostJsonAsync("/v1/completions", new { prompt = "Asleep?", max_tokens = 2 }))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, asleep.StatusCode);
                Assert.Equal("engine_sleeping", (await asleep.JsonAsync()).GetProperty("error").GetProperty("code").GetString());
            }
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/wake_up", null, Cancel)).StatusCode);
            using (var awake = await client.PostJsonAsync("/v1/completions", new { prompt = "Awake?", max_tokens = 2 }))
            {
                Assert.Equal(HttpStatusCode.OK, awake.StatusCode);
            }
        }
        await stop.CancelAsync();
        await Task.WhenAll(senders);

        Assert.True(statuses.Count > 0, "the racing clients sent nothing");
        Assert.Contains(statuses, s => s.Status == HttpStatusCode.OK);
        Assert.All(statuses, s => Assert.True(s.Status == HttpStatusCode.OK || (s.Status == HttpStatusCode.ServiceUnavailable && s.Code == "engine_sleeping"), $"{s.Status} {s.Code}"));
        Assert.Equal(0, (await client.MetricsAsync())["vellum_worker_unhandled_errors_total"].Value());
        WorkerApp.AssertHoldsNothing(await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10)));
    }
}

/// <summary>Sleep frees memory, as a worker process's resident size shows: level 1 less than awake, level 2 less still, and cycles do not grow it.</summary>
public class SleepMemoryTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EachSleepLevel_HoldsLessThanTheOneAbove_AndSleepWakeCyclesDoNotGrow()
    {
        await using var worker = await ServiceProcess.StartWorkerAsync($"--model \"{SmallModel.Directory}\" --max-num-seqs 4", ("VLLM_SERVER_DEV_MODE", "1"));

        var awake = await ServeThenMeasureAsync(worker);
        var level1 = await SleepAndMeasureAsync(worker, 1);
        await WakeAsync(worker);
        await ServeThenMeasureAsync(worker);
        var level2 = await SleepAndMeasureAsync(worker, 2);

        Assert.True(level1 < awake, $"level 1 holds {Mb(level1)} MB, awake {Mb(awake)} MB");
        Assert.True(level2 < level1, $"level 2 holds {Mb(level2)} MB, level 1 {Mb(level1)} MB");

        var asleep = new List<long>();
        for (var cycle = 0; cycle < 4; cycle++)
        {
            await WakeAsync(worker);
            await ServeThenMeasureAsync(worker);
            asleep.Add(await SleepAndMeasureAsync(worker, 2));
        }
        // A cycle that kept its weights would add a whole model; the runtime's own warm-up (JIT, heap growth) adds a few
        // MB at most, so half a model over four cycles tells the two apart on a noisy machine.
        var weights = new FileInfo(Path.Combine(SmallModel.Directory, "model.onnx")).Length;
        Assert.True(asleep[^1] - level2 < weights / 2,
            $"after {asleep.Count} more cycles a sleeping worker holds {Mb(asleep[^1])} MB, first {Mb(level2)} MB (weights {Mb(weights)} MB)");
    }

    private static async Task<long> ServeThenMeasureAsync(ServiceProcess worker)
    {
        var requests = Enumerable.Range(0, 4).Select(async i =>
        {
            using var response = await worker.Client.PostJsonAsync("/v1/completions", new { prompt = $"Story number {i} begins", max_tokens = 32, ignore_eos = true });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
        await Task.WhenAll(requests);
        return worker.ResidentBytes();
    }

    private static async Task<long> SleepAndMeasureAsync(ServiceProcess worker, int level)
    {
        using var response = await worker.Client.PostAsync($"/sleep?level={level}", null, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The model goes when the last request holding it has let go, which may be a moment after its client had the
        // response (and later still on a busy machine): the lowest reading over a second and a half is what sleep holds.
        var lowest = worker.ResidentBytes();
        for (var i = 0; i < 15; i++)
        {
            await Task.Delay(100, Cancel);
            lowest = Math.Min(lowest, worker.ResidentBytes());
        }
        return lowest;
    }

    private static async Task WakeAsync(ServiceProcess worker)
    {
        using var response = await worker.Client.PostAsync("/wake_up", null, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static long Mb(long bytes) => bytes >> 20;
}
