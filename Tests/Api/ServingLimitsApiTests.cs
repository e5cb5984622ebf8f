using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Api;

/// <summary>Admission control, deadlines and per-request metrics as clients see them.</summary>
public class ServingLimitsApiTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FullQueue_Answers503WithRetryAfter_AndAnOpenAiError()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:MaxNumQueuedRequests", "0"));
        using var client = worker.CreateClient();

        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 4 });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.Equal("max_num_queued_reqs", error.GetProperty("code").GetString());
        Assert.Equal("server_error", error.GetProperty("type").GetString());
        Assert.Contains("--max-num-queued-requests 0", error.GetProperty("message").GetString());
        Assert.Equal(1, worker.Engine.Snapshot.Rejected["max_num_queued_reqs"]);
        WorkerApp.AssertHoldsNothing(worker.Engine.Snapshot);
    }

    [Fact]
    public async Task RequestTimeout_AbortsTheRequest_Answers504_AndFreesItsBlocks()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:RequestTimeout", "0.02"));
        using var client = worker.CreateClient();

        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = "The ship left the harbour", n = 8, max_tokens = 480, ignore_eos = true });

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("request_timeout", (await response.JsonAsync()).GetProperty("error").GetProperty("code").GetString());
        var idle = await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));
        WorkerApp.AssertHoldsNothing(idle);
        Assert.Equal(8, idle.Finished["abort"]);
    }

    [Fact]
    public async Task IncludeMetrics_AddsTimingToTheResponse_AndServerTimingToTheHeaders()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:EnablePerRequestMetrics", "true"));
        using var client = worker.CreateClient();

        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = "The river", max_tokens = 20, ignore_eos = true, include_metrics = true });
        var metrics = (await response.JsonAsync()).GetProperty("metrics");

        var ttft = metrics.GetProperty("time_to_first_token_ms").GetDouble();
        var generation = metrics.GetProperty("generation_time_ms").GetDouble();
        Assert.True(ttft > 0);
        Assert.True(generation > 0);
        Assert.True(metrics.GetProperty("queue_time_ms").GetDouble() >= 0);
        Assert.True(metrics.GetProperty("queue_time_ms").GetDouble() <= ttft);
        Assert.InRange(metrics.GetProperty("mean_itl_ms").GetDouble(), generation / 19 * 0.99, generation / 19 * 1.01);
        Assert.True(metrics.GetProperty("tokens_per_second").GetDouble() > 0);
        var timing = response.Headers.GetValues("Server-Timing").Single();
        Assert.Matches(@"^queue;dur=[\d.]+, ttft;dur=[\d.]+, generation;dur=[\d.]+, itl;dur=[\d.]+$", timing);
    }

    [Fact]
    public async Task IncludeMetrics_WhenStreaming_ArrivesInTheFinalChunk()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:EnablePerRequestMetrics", "true"));
        using var client = worker.CreateClient();

        using var response = await client.PostJsonAsync("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Hi" } },
            max_tokens = 10,
            ignore_eos = true,
            stream = true,
            include_metrics = true,
        });
        var events = await Sse.ReadAllAsync(response, Cancel);

        var final = events[^2].Json;
        Assert.Empty(final.GetProperty("choices").EnumerateArray());
        Assert.True(final.GetProperty("metrics").GetProperty("time_to_first_token_ms").GetDouble() > 0);
        Assert.False(final.TryGetProperty("usage", out _));
    }

    [Fact]
    public async Task IncludeMetrics_OnAServerWithoutTheFlag_IsRefused()
    {
        await using var worker = await WorkerApp.StartAsync();
        using var client = worker.CreateClient();

        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = "Hi", include_metrics = true });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("include_metrics", (await response.JsonAsync()).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task MultiTurnChat_TheNextTurnReusesTheLastTurnsCache()
    {
        await using var worker = await WorkerApp.StartAsync();
        using var client = worker.CreateClient();
        var turn1 = new List<object> { new { role = "user", content = "How many days are in a week?" } };

        using var first = await client.PostJsonAsync("/v1/chat/completions", new { messages = turn1, max_tokens = 12, temperature = 0 });
        var firstBody = await first.JsonAsync();
        var reply = ChatCompletionsApiTests.Content(firstBody);
        var firstUsage = firstBody.GetProperty("usage");
        var hitsBefore = worker.Engine.Snapshot.PrefixHits;

        turn1.Add(new { role = "assistant", content = reply });
        turn1.Add(new { role = "user", content = "Thank you." });
        using var second = await client.PostJsonAsync("/v1/chat/completions", new { messages = turn1, max_tokens = 4 });
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);

        // Every whole block the first turn computed is reused: all it computed but its final token (sampled, never fed
        // back) and any token the template's line break re-tokenizes differently, rounded down to blocks of 16.
        var reused = worker.Engine.Snapshot.PrefixHits - hitsBefore;
        var firstTurnTokens = firstUsage.GetProperty("prompt_tokens").GetInt32() + firstUsage.GetProperty("completion_tokens").GetInt32();
        Assert.InRange(reused, (firstTurnTokens - 3) / 16 * 16, firstTurnTokens - 1);
        Assert.Equal(0, reused % 16);
    }
}
