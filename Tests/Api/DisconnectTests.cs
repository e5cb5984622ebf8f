using System.Net;
using Tests.Support;

namespace Tests.Api;

public class DisconnectTests(DedicatedWorkerFixture fixture) : IClassFixture<DedicatedWorkerFixture>
{
    private readonly WorkerApp worker = fixture.Worker;

    [Fact]
    public async Task ClientGoneMidStream_AbortsItsGeneration_FreesEverything_AndTheNextRequestIsServed()
    {
        using var client = worker.CreateClient();
        var stepsBefore = worker.Engine.Snapshot.Steps;
        const int maxTokens = 480;

        using (var response = await client.PostJsonAsync("/v1/completions",
                   new { prompt = "The ship left the harbour", n = 8, max_tokens = maxTokens, ignore_eos = true, stream = true }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken));
            Assert.StartsWith("data: {", await reader.ReadLineAsync(TestContext.Current.CancellationToken));
        } // disposing the response drops the connection

        var idle = await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10));
        WorkerApp.AssertHoldsNothing(idle);
        Assert.Equal(8, idle.Finished["abort"]);
        Assert.True(idle.Steps - stepsBefore < maxTokens, $"the generation ran {idle.Steps - stepsBefore} steps: it was not aborted");

        using var next = await client.PostJsonAsync("/v1/completions", new { prompt = "Are you still there?", max_tokens = 4, ignore_eos = true });
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(4, (await next.JsonAsync()).GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }
}
