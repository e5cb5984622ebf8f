using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using MetricsContract;
using Tests.Support;

namespace Tests.KvTransfer;

/// <summary>
/// vllm:num_requests_kv_fetch_by_stage on a decode worker (kv_consumer): where each request reading its prompt's KV
/// stands, so an operator sees whether slow first tokens wait for room, for a producer's answer, or for bytes.
/// </summary>
public class KvFetchStageTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AFetch_ShowsQueuedWhileItWaitsForRoom_HandshakeWhileTheProducerIsSilent_AndNothingOnceItEnds()
    {
        await using var consumer = await WorkerApp.StartAsync(WorkerApp.DevMode, ("Worker:KvTransferConfig", PrefillDecodeWorkers.Config("kv_consumer")));
        using var client = consumer.CreateClient();
        // A producer that takes the connection and never answers: the read stays in its handshake.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = silent.AcceptSocketAsync(Cancel);
        Assert.Equal(new Dictionary<string, double> { ["queued"] = 0, ["handshake"] = 0, ["transferring"] = 0 }, await StagesAsync(client));

        using (var paused = await client.PostAsync("/pause?mode=keep", null, Cancel))
        {
            paused.EnsureSuccessStatusCode();
        }
        var body = new JsonObject { ["model"] = WorkerApp.ModelName, ["prompt"] = "The keeper of the lighthouse counted the ships", ["max_tokens"] = 3 };
        var kv = new JsonObject
        {
            ["do_remote_prefill"] = true, ["do_remote_decode"] = false, ["remote_engine_id"] = "silent-producer", ["remote_host"] = "127.0.0.1",
            ["remote_port"] = ((IPEndPoint)silent.LocalEndpoint).Port, ["remote_block_ids"] = new JsonArray(0, 1, 2, 3), ["remote_request_id"] = "held-1",
        };
        var decoding = PrefillDecodeWorkers.DecodeAsync(client, body, kv, "fetch-stages-1");
        await Eventually.ReadUntilAsync(() => consumer.Engine.Snapshot.KvFetches, f => f?.Queued == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, (await StagesAsync(client))["queued"]);

        using (var resumed = await client.PostAsync("/resume", null, Cancel))
        {
            resumed.EnsureSuccessStatusCode();
        }
        using var producerSide = await accepted;
        await Eventually.ReadUntilAsync(() => consumer.Engine.Snapshot.KvFetches, f => f?.Handshake == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(new Dictionary<string, double> { ["queued"] = 0, ["handshake"] = 1, ["transferring"] = 0 }, await StagesAsync(client));

        // The producer goes away: the read fails, the decode worker computes the prompt, and the request leaves every stage.
        producerSide.Close();
        using (var answered = await decoding)
        {
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }
        await Eventually.ReadUntilAsync(() => consumer.Engine.Snapshot.KvFetches, f => f == new Worker.Engine.KvFetchCounts(0, 0, 0), TimeSpan.FromSeconds(10));
        Assert.Equal(new Dictionary<string, double> { ["queued"] = 0, ["handshake"] = 0, ["transferring"] = 0 }, await StagesAsync(client));
    }

    [Fact]
    public async Task TheFamily_IsRegisteredOnConsumersOnly()
    {
        await using var producer = await WorkerApp.StartAsync(("Worker:KvTransferConfig", PrefillDecodeWorkers.Config("kv_producer")));
        using var client = producer.CreateClient();

        Assert.DoesNotContain(MetricCatalog.NumRequestsKvFetchByStage.Name, (await client.MetricsAsync()).Keys);
    }

    private static async Task<Dictionary<string, double>> StagesAsync(HttpClient client) =>
        (await client.MetricsAsync($"?name[]={MetricCatalog.NumRequestsKvFetchByStage.Name}"))[MetricCatalog.NumRequestsKvFetchByStage.Name]
            .Samples.ToDictionary(s => s.Labels["stage"], s => s.Value);
}
