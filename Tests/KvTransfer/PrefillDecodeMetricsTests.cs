using System.Text.Json.Nodes;
using Tests.Support;
using Worker.Runner;

namespace Tests.KvTransfer;

/// <summary>
/// vLLM's NIXL families and the general families P/D feeds, exactly, for a known workload: one observation per
/// completed read on the decode side, bytes = blocks × bytes per block, a descriptor per block, layer, key or value and
/// KV head; the prompt's tokens counted by where their KV came from. Both workers hold nothing afterwards.
/// </summary>
public class PrefillDecodeMetricsTests(WorkerFixture plain)
{
    private static readonly (string, string)[] Series = [("model_name", WorkerApp.ModelName), ("engine", "0")];

    /// <summary>Prompts as token ids, so their lengths are exact; different first tokens, so no prefix is shared.</summary>
    private static readonly int[] PromptLengths = [20, 33, 100];

    [Fact]
    public async Task AKnownWorkload_GivesExactCountsAndSums_OnBothSides()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync();
        var model = ModelFolder.Read(TinyModel.Directory);
        var blockBytes = 2L * model.Layers * model.KvHeads * model.HeadSize * pair.Consumer.Engine.Runner.Cache.ElementBytes * 16;
        var descriptorsPerBlock = 2 * model.Layers * model.KvHeads;

        foreach (var (length, i) in PromptLengths.Select((l, i) => (l, i)))
        {
            var body = new JsonObject { ["prompt"] = new JsonArray(Enumerable.Range(0, length).Select(t => (JsonNode)((t * 7 + i * 101 + 3) % 250)).ToArray()), ["max_tokens"] = 4, ["ignore_eos"] = true };
            await pair.RunAsync(body, $"metrics-{i}");
        }

        // The last token of each prompt is computed on the decode side: its logits give the first output token.
        var blocks = PromptLengths.Select(p => (p - 1 + 15) / 16).ToArray();
        var decode = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(PromptLengths.Length, decode["vllm:nixl_xfer_time_seconds"].Of("_count", Series));
        Assert.Equal(PromptLengths.Length, decode["vllm:nixl_post_time_seconds"].Of("_count", Series));
        Assert.Equal(PromptLengths.Length, decode["vllm:nixl_bytes_transferred"].Of("_count", Series));
        Assert.Equal(blocks.Sum() * blockBytes, decode["vllm:nixl_bytes_transferred"].Of("_sum", Series));
        Assert.Equal(blocks.Sum() * descriptorsPerBlock, decode["vllm:nixl_num_descriptors"].Of("_sum", Series));
        Assert.True(decode["vllm:nixl_xfer_time_seconds"].Of("_sum", Series) >= decode["vllm:nixl_post_time_seconds"].Of("_sum", Series));
        Assert.Equal(0, decode["vllm:nixl_num_failed_transfers_total"].Value(Series));
        Assert.Equal(0, decode["vllm:nixl_num_failed_notifications_total"].Value(Series));

        var external = PromptLengths.Sum(p => p - 1);
        Assert.Equal(external, decode["vllm:prompt_tokens_by_source_total"].Value([.. Series, ("source", "external_kv_transfer")]));
        Assert.Equal(PromptLengths.Length, decode["vllm:prompt_tokens_by_source_total"].Value([.. Series, ("source", "local_compute")]));
        Assert.Equal(0, decode["vllm:prompt_tokens_by_source_total"].Value([.. Series, ("source", "local_cache_hit")]));
        Assert.Equal(external, decode["vllm:prompt_tokens_cached_total"].Value(Series));
        Assert.Equal(PromptLengths.Sum(), decode["vllm:external_prefix_cache_queries_total"].Value(Series));
        Assert.Equal(external, decode["vllm:external_prefix_cache_hits_total"].Value(Series));
        Assert.Equal(PromptLengths.Length, decode["vllm:request_prefill_kv_computed_tokens"].Of("_sum", Series));
        Assert.Equal(0, decode["vllm:num_requests_waiting_by_reason"].Value([.. Series, ("reason", "deferred")]));

        var prefill = await pair.ProducerClient.MetricsAsync();
        Assert.Equal(0, prefill["vllm:nixl_xfer_time_seconds"].Of("_count", Series));
        Assert.Equal(0, prefill["vllm:nixl_num_kv_expired_reqs_total"].Value(Series));
        Assert.Equal(PromptLengths.Sum(), prefill["vllm:prompt_tokens_by_source_total"].Value([.. Series, ("source", "local_compute")]));
        Assert.Equal(0, prefill["vllm:prompt_tokens_by_source_total"].Value([.. Series, ("source", "external_kv_transfer")]));

        // The producer freed every transferred block once the decode side said it had read them.
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Producer));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Consumer));
        Assert.Equal((0, 0), (pair.Producer.Engine.Snapshot.HeldForTransfer, pair.Consumer.Engine.Snapshot.Deferred));
    }

    [Fact]
    public async Task ARequestReadingItsKv_IsWaitingDeferred_UntilTheKvHasArrived()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync();
        var body = new JsonObject { ["prompt"] = PrefillDecodeEquivalenceTests.Prompt("deferred", 20), ["max_tokens"] = 2 };
        var kv = await pair.PrefillAsync(body, "deferred-1");
        using var gate = new ManualResetEventSlim();
        pair.Producer.Engine.Options.KvConnector!.Producer!.RegionSent = _ => gate.Wait(TimeSpan.FromSeconds(30));

        var decoding = pair.DecodeAsync(body, kv, "deferred-1");
        var waiting = await pair.ConsumerClient.MetricsUntilAsync(m => m["vllm:num_requests_waiting_by_reason"].Value([.. Series, ("reason", "deferred")]) == 1);
        gate.Set();
        var text = await PrefillDecodeWorkers.TextAsync(await decoding);

        Assert.Equal(1, waiting["vllm:num_requests_waiting_by_reason"].Value([.. Series, ("reason", "deferred")]));
        Assert.Equal(0, waiting["vllm:num_requests_waiting_by_reason"].Value([.. Series, ("reason", "capacity")]));
        Assert.Equal(1, waiting["vllm:num_requests_waiting"].Value(Series));
        Assert.NotEmpty(text);
        var after = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(0, after["vllm:num_requests_waiting_by_reason"].Value([.. Series, ("reason", "deferred")]));
    }

    [Fact]
    public async Task EachRead_CarriesItsRequestAsTheExemplar_AndItsResponseTheTransfer()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync(exemplars: true);
        var body = new JsonObject { ["prompt"] = PrefillDecodeEquivalenceTests.Prompt("exemplar", 20), ["max_tokens"] = 2, ["include_metrics"] = true };
        using var response = await pair.DecodeAsync(body, await pair.PrefillAsync(body, "exemplar-1"), "exemplar-1");
        var transfer = (await response.JsonAsync()).GetProperty("metrics").GetProperty("kv_transfer");

        var families = await pair.ConsumerClient.OpenMetricsAsync();
        foreach (var family in new[] { "vllm:nixl_xfer_time_seconds", "vllm:nixl_bytes_transferred", "vllm:nixl_num_descriptors" })
        {
            Assert.Contains(families[family].Samples, s => s.Exemplar?.Contains("request_id=\"cmpl-exemplar-1\"") == true);
        }
        Assert.Equal(families["vllm:nixl_bytes_transferred"].Of("_sum", Series), transfer.GetProperty("bytes").GetInt64());
        Assert.True(transfer.GetProperty("external_prompt_tokens").GetInt32() > 0);
        Assert.True(transfer.GetProperty("transfer_ms").GetDouble() > 0);
    }

    [Fact]
    public async Task AWorkerWithoutAKvConnector_HasNoNixlSeries_AndOneWithIt_HasThemAtZero()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync();
        using var client = plain.CreateClient();
        var without = await client.MetricsAsync();
        var with = await pair.ConsumerClient.MetricsAsync();

        Assert.DoesNotContain(without.Keys, name => name.StartsWith("vllm:nixl_", StringComparison.Ordinal));
        foreach (var counter in new[] { "vllm:nixl_num_failed_transfers_total", "vllm:nixl_num_failed_notifications_total", "vllm:nixl_num_kv_expired_reqs_total" })
        {
            Assert.Equal(0, with[counter].Value(Series));
        }
        foreach (var histogram in new[] { "vllm:nixl_xfer_time_seconds", "vllm:nixl_post_time_seconds", "vllm:nixl_bytes_transferred", "vllm:nixl_num_descriptors" })
        {
            Assert.Equal(0, with[histogram].Of("_count", Series));
        }
    }
}
