using MetricsContract;
using Tests.Support;

namespace Tests.Metrics;

/// <summary>
/// The queue's depth in tokens reaches routers the two ways they read load: a name[]-filtered /metrics poll and the
/// in-band endpoint-load-metrics header (ORCA), both from the same engine counts.
/// </summary>
public class QueueDepthExpositionTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AQueuedPrompt_ShowsInTheFilteredPoll_AndInTheLoadHeader()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();
        using (var paused = await client.PostAsync("/pause?mode=keep", null, Cancel))
        {
            paused.EnsureSuccessStatusCode();
        }
        var later = client.PostJsonAsync("/v1/completions", new { prompt = "Queued behind a paused engine for a while", max_tokens = 2 });
        var queued = await Eventually.ReadUntilAsync(() => worker.Engine.Snapshot, s => s.Waiting == 1, TimeSpan.FromSeconds(10));
        Assert.True(queued.WaitingTokens > 5);

        var polled = await client.MetricsAsync($"?name[]={MetricCatalog.NumTokensWaiting.Name}&name[]={MetricCatalog.NumUncachedTokensWaiting.Name}");
        Assert.Equal([MetricCatalog.NumTokensWaiting.Name, MetricCatalog.NumUncachedTokensWaiting.Name], polled.Keys.Order());
        Assert.Equal(queued.WaitingTokens, polled[MetricCatalog.NumTokensWaiting.Name].Value(("model_name", WorkerApp.ModelName), ("engine", "0")));
        Assert.Equal(queued.WaitingUncachedTokens, polled[MetricCatalog.NumUncachedTokensWaiting.Name].Value(("model_name", WorkerApp.ModelName), ("engine", "0")));

        using var asking = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        asking.Headers.Add(EndpointLoadReport.FormatHeader, "text");
        using var answered = await client.SendAsync(asking, Cancel);
        var report = EndpointLoadReport.Parse(answered.Headers.GetValues(EndpointLoadReport.Header).Single());
        Assert.NotNull(report);
        Assert.Equal((1, queued.WaitingTokens, queued.WaitingUncachedTokens), (report.Waiting, report.TokensWaiting, report.UncachedTokensWaiting));

        using (var resumed = await client.PostAsync("/resume", null, Cancel))
        {
            resumed.EnsureSuccessStatusCode();
        }
        (await later).EnsureSuccessStatusCode();
    }
}
