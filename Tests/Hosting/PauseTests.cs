using System.Net;
using Tests.Support;

namespace Tests.Hosting;

/// <summary>
/// vLLM's generation pause (POST /pause?mode=abort|wait|keep, /resume, /is_paused; dev mode only): an operator freezes,
/// drains or clears a worker, and nothing in flight is lost or left holding KV.
/// </summary>
public class PauseTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static readonly (string, string)[] Series = [("model_name", WorkerApp.ModelName), ("engine", "0")];

    [Fact]
    public async Task Keep_FreezesRequestsInFlight_QueuesNewOnes_AndResumeFinishesEveryToken()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();
        using var streamed = await client.PostJsonAsync("/v1/completions", new { prompt = "The long road", max_tokens = 400, ignore_eos = true, stream = true, stream_options = new { include_usage = true } });
        var reading = Sse.ReadAllAsync(streamed, Cancel);
        await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot.Running, running => running == 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));

        await PostOkAsync(client, "/pause?mode=keep");
        var paused = worker.Engine.Snapshot;
        var later = client.PostJsonAsync("/v1/completions", new { prompt = "Arriving while paused", max_tokens = 4, ignore_eos = true });
        var queued = await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot, s => s.Waiting == 1, TimeSpan.FromSeconds(10));

        Assert.True(paused.Paused);
        Assert.True((await (await client.GetAsync("/is_paused", Cancel)).JsonAsync()).GetProperty("is_paused").GetBoolean());
        Assert.Equal(new { Running = 1, Waiting = 1, paused.Steps }, new { queued.Running, queued.Waiting, queued.Steps }); // no step ran meanwhile
        Assert.True(queued.UsedBlocks > 0, "the frozen request no longer holds its KV");

        await PostOkAsync(client, "/resume");
        var events = await reading;
        using var answered = await later;
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal(400, events[^2].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(404, (await client.MetricsAsync())["vllm:generation_tokens_total"].Value(Series));
        Assert.False(worker.Engine.Snapshot.Paused);
        WorkerApp.AssertHoldsNothing(await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Abort_EndsRequestsInFlightWithEnginePaused_FreesTheirKvAndTheCache_ThenServesAfterResume()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();
        using (var warm = await client.PostJsonAsync("/v1/completions", new { prompt = "A prefix to keep in the cache", max_tokens = 2 }))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }
        using var streamed = await client.PostJsonAsync("/v1/completions", new { prompt = "The long road", max_tokens = 400, n = 2, ignore_eos = true, stream = true });
        var reading = Sse.ReadAllAsync(streamed, Cancel);
        await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot.Running, running => running == 2, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));

        await PostOkAsync(client, "/pause"); // vLLM's default mode: abort

        var events = await reading;
        var error = Assert.Single(events, e => !e.IsDone && e.Json.TryGetProperty("error", out _)).Json.GetProperty("error");
        Assert.Equal("engine_paused", error.GetProperty("code").GetString());
        var idle = worker.Engine.Snapshot;
        Assert.Equal(new { Paused = true, PrefixPoolEntries = 0, CachedBlocks = 0 }, new { idle.Paused, idle.PrefixPoolEntries, idle.CachedBlocks });
        WorkerApp.AssertHoldsNothing(idle);
        Assert.Equal(2, (await client.MetricsAsync())["vllm:request_success_total"].Value([.. Series, ("finished_reason", "abort")]));

        var later = client.PostJsonAsync("/v1/completions", new { prompt = "Arriving while paused", max_tokens = 4, ignore_eos = true });
        await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot.Waiting, waiting => waiting == 1, TimeSpan.FromSeconds(10));
        await PostOkAsync(client, "/resume");
        using var answered = await later;
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task Wait_AnswersOnceTheRequestsInFlightHaveFinished_AndHoldsNewOnesBack()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();
        var inFlight = client.PostJsonAsync("/v1/completions", new { prompt = "The long road", max_tokens = 300, ignore_eos = true });
        await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot.Running, running => running == 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(1));

        await PostOkAsync(client, "/pause?mode=wait&clear_cache=false");

        var paused = worker.Engine.Snapshot;
        Assert.Equal(new { Paused = true, ActiveRequests = 0, Length = 1L }, new { paused.Paused, paused.ActiveRequests, Length = paused.Finished["length"] });
        Assert.True(paused.PrefixPoolEntries > 0, "clear_cache=false dropped the kept prefixes");
        using var finished = await inFlight;
        Assert.Equal(300, (await finished.JsonAsync()).GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        await PostOkAsync(client, "/resume");
    }

    [Theory]
    [InlineData("sideways")]
    [InlineData("1")]
    public async Task AnUnknownMode_IsRefusedNamingTheParameter(string mode)
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();

        using var response = await client.PostAsync($"/pause?mode={mode}", null, Cancel);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("mode", (await response.JsonAsync()).GetProperty("error").GetProperty("param").GetString());
        Assert.False(worker.Engine.Snapshot.Paused);
    }

    private static async Task PostOkAsync(HttpClient client, string path)
    {
        using var response = await client.PostAsync(path, null, Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
