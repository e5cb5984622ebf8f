using System.Text.Json.Nodes;
using Tests.Support;

namespace Tests.KvTransfer;

/// <summary>
/// A read that cannot complete (the producer dies mid-read, its hold expired, the two workers do not hold the same
/// model) is counted once, and the request is answered right all the same: the decode worker computes the prompt.
/// </summary>
public class PrefillDecodeFailureTests(WorkerFixture single)
{
    private static readonly (string, string)[] Series = [("model_name", WorkerApp.ModelName), ("engine", "0")];

    private static JsonObject Body(string tag) => new()
    {
        ["prompt"] = PrefillDecodeEquivalenceTests.Prompt(tag, 25),
        ["max_tokens"] = 12,
        ["temperature"] = 0.9,
        ["seed"] = 17,
        ["ignore_eos"] = true,
    };

    private async Task<string> ExpectedAsync(JsonObject body)
    {
        using var client = single.CreateClient();
        return await PrefillDecodeWorkers.TextAsync(await client.PostRawAsync("/v1/completions", body.ToJsonString()));
    }

    [Fact]
    public async Task TheProducerProcessKilledWhileAReadIsInFlight_IsOneFailedTransfer_AndTheDecodeWorkerComputesThePrompt()
    {
        await using var producer = await ServiceProcess.StartWorkerAsync($"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}",
            ("Worker__KvTransferConfig", PrefillDecodeWorkers.Config("kv_producer")));
        await using var consumer = await WorkerApp.StartAsync(("Worker:KvTransferConfig", PrefillDecodeWorkers.Config("kv_consumer")));
        using var consumerClient = consumer.CreateClient();
        var body = Body("process-killed");
        var kv = await PrefillDecodeWorkers.PrefillAsync(producer.Client, body, "process-killed-1");

        // Frozen, the producer's socket takes the read and nothing answers it: the read is in flight, for as long as it takes.
        producer.Freeze();
        var decoding = PrefillDecodeWorkers.DecodeAsync(consumerClient, body, kv, "process-killed-1");
        var reading = await Eventually.ReadUntilAsync(() => consumer.Engine.Snapshot.Deferred, deferred => deferred == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, reading);
        producer.Kill();
        var text = await PrefillDecodeWorkers.TextAsync(await decoding);

        Assert.Equal(await ExpectedAsync(body), text);
        var decode = await consumerClient.MetricsAsync();
        Assert.Equal(1, decode["vllm:nixl_num_failed_transfers_total"].Value(Series));
        Assert.Equal(0, decode["vllm:nixl_xfer_time_seconds"].Of("_count", Series));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(consumer));
    }

    [Fact]
    public async Task TheConnectionBreakingAfterSomeRegions_IsOneFailedTransfer_AndTheDecodeWorkerComputesThePrompt()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync(abortRequestTimeout: 1);
        var body = Body("broken");
        var kv = await pair.PrefillAsync(body, "broken-1");
        // The producer's hook breaks its side of the connection after two regions: bytes have arrived, the rest never will.
        pair.Producer.Engine.Options.KvConnector!.Producer!.RegionSent = region =>
        {
            if (region == 2)
            {
                throw new IOException("the connection broke");
            }
        };

        var text = await PrefillDecodeWorkers.TextAsync(await pair.DecodeAsync(body, kv, "broken-1"));

        Assert.Equal(await ExpectedAsync(body), text);
        var decode = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(1, decode["vllm:nixl_num_failed_transfers_total"].Value(Series));
        Assert.Equal(0, decode["vllm:nixl_xfer_time_seconds"].Of("_count", Series));
        Assert.Equal(0, decode["vllm:prompt_tokens_by_source_total"].Value([.. Series, ("source", "external_kv_transfer")]));
        // Nobody told the producer its KV was read: it frees it when the hold expires, and counts that.
        var prefill = await pair.ProducerClient.MetricsUntilAsync(m => m["vllm:nixl_num_kv_expired_reqs_total"].Value(Series) == 1);
        Assert.Equal(1, prefill["vllm:nixl_num_kv_expired_reqs_total"].Value(Series));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Producer));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Consumer));
    }

    [Fact]
    public async Task KvHeldPastItsTimeout_IsFreedAndCountedExpired_AndTheLateReadFallsBackToLocalPrefill()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync(abortRequestTimeout: 0.3);
        var body = Body("expired");
        var kv = await pair.PrefillAsync(body, "expired-1");

        var freed = await Eventually.ReadUntilAsync(() => pair.Producer.Engine.Snapshot, s => s.HeldForTransfer == 0, TimeSpan.FromSeconds(10));
        var text = await PrefillDecodeWorkers.TextAsync(await pair.DecodeAsync(body, kv, "expired-1"));

        Assert.Equal(0, freed.HeldForTransfer);
        Assert.Equal(0, freed.UsedBlocks);
        Assert.Equal(await ExpectedAsync(body), text);
        var prefill = await pair.ProducerClient.MetricsAsync();
        Assert.Equal(1, prefill["vllm:nixl_num_kv_expired_reqs_total"].Value(Series));
        var decode = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(1, decode["vllm:nixl_num_failed_transfers_total"].Value(Series));
        Assert.Equal(0, decode["vllm:nixl_num_failed_notifications_total"].Value(Series));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Consumer));
    }

    [Fact]
    public async Task AProducerOfAnotherModel_IsRefusedAtTheHandshake_AndTheDecodeWorkerComputesThePrompt()
    {
        // The tiny model's draft: same tokenizer, other weights and layers.
        await using var pair = await PrefillDecodeWorkers.StartAsync(abortRequestTimeout: 1, producerModel: Path.Combine(TinyModel.Directory, "draft"));
        var body = Body("mismatch");
        var kv = await pair.PrefillAsync(body, "mismatch-1");

        var text = await PrefillDecodeWorkers.TextAsync(await pair.DecodeAsync(body, kv, "mismatch-1"));

        Assert.Equal(await ExpectedAsync(body), text);
        var decode = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(1, decode["vllm:nixl_num_failed_transfers_total"].Value(Series));
        Assert.Equal(0, decode["vllm:nixl_bytes_transferred"].Of("_count", Series));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Consumer));
        // The refused decode worker never read the KV: the producer frees it when the hold expires.
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Producer));
    }
}
