using System.Net;
using System.Text.Json;
using Tests.Support;
using C = MetricsContract.MetricCatalog;

namespace Tests.Metrics;

/// <summary>After a known workload, what /metrics says equals what was served, with vLLM's definitions.</summary>
public class MetricsSemanticsTests
{
    /// <summary>Longer than two KV blocks, so that a repeat of it hits the prefix cache (hits are whole blocks).</summary>
    private const string RiverPrompt = "The river ran through the valley and past the old mill, where the miller counted sacks of flour every morning";

    private static readonly (string, string)[] Series = [(C.ModelName, WorkerApp.ModelName), (C.Engine, "0")];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task KnownWorkload_CountersAndHistogramsAddUpToWhatWasServed()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:NumGpuBlocksOverride", "32"), ("Worker:MaxNumSeqs", "8"));
        using var client = worker.CreateClient();

        var served = new List<JsonElement>();
        var requests = new object[]
        {
            new { prompt = "The cat sat by the window.", max_tokens = 60 },                       // stops at end-of-text
            new { prompt = RiverPrompt, max_tokens = 40, ignore_eos = true },
            new { prompt = RiverPrompt, max_tokens = 30, ignore_eos = true }, // prefix hit (whole blocks of it)
            new { prompt = "Bread needs time.", max_tokens = 25, ignore_eos = true, n = 3 },
            new { prompt = "Numbers tell a story", max_tokens = 80, ignore_eos = true, stop = new[] { "zzzz" } },
        };
        foreach (var request in requests)
        {
            using var response = await client.PostJsonAsync("/v1/completions", request);
            served.Add(await response.JsonAsync());
        }
        // Concurrent long requests on 32 blocks: preemptions.
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
        {
            using var response = await client.PostJsonAsync("/v1/completions", new { prompt = $"A map is not the land {i}", max_tokens = 120, ignore_eos = true });
            return await response.JsonAsync();
        }));
        served.AddRange(concurrent);
        var idle = await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10));

        var m = await client.MetricsAsync();
        var choices = served.SelectMany(r => r.GetProperty("choices").EnumerateArray()).ToArray();
        var sequences = choices.Length;
        var generated = served.Sum(r => r.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        // Each of a request's n sequences prefills its prompt, as each of vLLM's child requests does.
        var promptTokens = served.Sum(r => r.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() * r.GetProperty("choices").GetArrayLength());

        double Counter(string name, params (string, string)[] extra) => m[name].Value([.. Series, .. extra]);
        double Count(string histogram) => m[histogram].Of("_count", Series);
        double Sum(string histogram) => m[histogram].Of("_sum", Series);

        Assert.Equal(sequences, Counter("vllm:request_success_total", ("finished_reason", "stop")) + Counter("vllm:request_success_total", ("finished_reason", "length")));
        Assert.Equal(choices.Count(c => c.GetProperty("finish_reason").GetString() == "stop"), Counter("vllm:request_success_total", ("finished_reason", "stop")));
        Assert.Equal(generated, Counter("vllm:generation_tokens_total"));
        Assert.Equal(promptTokens, Counter("vllm:prompt_tokens_total"));
        Assert.Equal(Counter("vllm:prompt_tokens_total"),
            Counter("vllm:prompt_tokens_by_source_total", ("source", "local_compute")) + Counter("vllm:prompt_tokens_by_source_total", ("source", "local_cache_hit"))
            + Counter("vllm:prompt_tokens_by_source_total", ("source", "external_kv_transfer")));
        Assert.Equal(Counter("vllm:prompt_tokens_by_source_total", ("source", "local_cache_hit")), Counter("vllm:prompt_tokens_cached_total"));
        Assert.Equal(idle.PrefixHits, Counter("vllm:prefix_cache_hits_total"));
        Assert.Equal(idle.PrefixQueries, Counter("vllm:prefix_cache_queries_total"));
        Assert.True(Counter("vllm:prefix_cache_hits_total") > 0);
        Assert.Equal(idle.Preemptions, Counter("vllm:num_preemptions_total"));
        Assert.True(idle.Preemptions > 0, "the 32-block cache was meant to force preemptions");
        Assert.Equal(idle.Preemptions, Sum("vllm:request_num_preemptions"));

        foreach (var perSequence in new[] { "vllm:e2e_request_latency_seconds", "vllm:time_to_first_token_seconds", "vllm:request_queue_time_seconds",
                     "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds", "vllm:request_inference_time_seconds",
                     "vllm:request_prompt_tokens", "vllm:request_generation_tokens", "vllm:request_params_max_tokens",
                     "vllm:request_time_per_output_token_seconds", "vllm:request_prefill_kv_computed_tokens", "vllm:request_num_preemptions" })
        {
            Assert.True(sequences == Count(perSequence), $"{perSequence}: count {Count(perSequence)}, sequences {sequences}");
        }
        Assert.Equal(served.Count, Count("vllm:request_params_n"));
        Assert.Equal(served.Sum(r => r.GetProperty("choices").GetArrayLength()), Sum("vllm:request_params_n"));
        Assert.Equal(generated, Sum("vllm:request_generation_tokens"));
        Assert.Equal(generated - sequences, Count("vllm:inter_token_latency_seconds"));
        Assert.Equal(promptTokens, Sum("vllm:request_prompt_tokens"));
        Assert.Equal(promptTokens - Counter("vllm:prompt_tokens_cached_total"), Sum("vllm:request_prefill_kv_computed_tokens"));
        // Every step computes prompt tokens not served from cache plus one token per running sequence.
        Assert.Equal(promptTokens - Counter("vllm:prompt_tokens_cached_total") + generated, Sum("vllm:iteration_tokens_total"));
        Assert.True(Sum("vllm:time_to_first_token_seconds") <= Sum("vllm:e2e_request_latency_seconds"));
        Assert.True(Sum("vllm:request_prefill_time_seconds") + Sum("vllm:request_decode_time_seconds") <= Sum("vllm:request_inference_time_seconds") + 1e-6);
        Assert.Equal(0, m["vllm:num_requests_running"].Value(Series));
        Assert.Equal(0, m["vllm:kv_cache_usage_perc"].Value(Series));
    }

    [Fact]
    public async Task OneRequest_QueuePlusInferenceIsItsEndToEnd_AndTtftComesFirst()
    {
        await using var worker = await WorkerApp.StartAsync();
        using var client = worker.CreateClient();
        using var response = await client.PostJsonAsync("/v1/completions", new { prompt = "The ship left the harbour", max_tokens = 200, ignore_eos = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));

        var m = await client.MetricsAsync();
        double Sum(string histogram) => m[histogram].Of("_sum", Series);
        var e2e = Sum("vllm:e2e_request_latency_seconds");

        Assert.True(Sum("vllm:time_to_first_token_seconds") <= e2e);
        // What separates them is the time before queueing (parsing and tokenization), which the first token follows.
        Assert.InRange(e2e - (Sum("vllm:request_queue_time_seconds") + Sum("vllm:request_inference_time_seconds")), 0, Sum("vllm:time_to_first_token_seconds"));
        // Each interval is rounded to the clock's 100 ns on its own: sums agree to a microsecond.
        Assert.Equal(Sum("vllm:request_inference_time_seconds"), Sum("vllm:request_prefill_time_seconds") + Sum("vllm:request_decode_time_seconds"), 1e-6);
        Assert.Equal(Sum("vllm:request_decode_time_seconds") / 199, Sum("vllm:request_time_per_output_token_seconds"), 1e-6);
    }

    [Fact]
    public async Task Aborts_AreCountedAsAbort_AndRequestsRefusedAtTheDoorByReason()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:MaxNumQueuedTokens", "0"));
        using var client = worker.CreateClient();
        using var refused = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 3 });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        var m = await client.MetricsAsync();

        // vLLM's labels (PR #55812): the reason and the model, no engine label, since admission comes before any engine.
        var rejections = m["vllm:admission_rejections_total"];
        Assert.All(rejections.Samples, sample => Assert.Equal(["model_name", "reason"], sample.Labels.Keys.Order()));
        Assert.Equal(1, rejections.Value((C.ModelName, WorkerApp.ModelName), ("reason", "max_num_queued_tokens")));
        Assert.Equal(0, rejections.Value((C.ModelName, WorkerApp.ModelName), ("reason", "max_num_queued_reqs")));
    }

    [Fact]
    public async Task ClientDisconnect_IsRecordedAsAnAbort()
    {
        await using var worker = await WorkerApp.StartAsync();
        using var client = worker.CreateClient();
        using (var response = await client.PostJsonAsync("/v1/completions", new { prompt = "The old clock", n = 4, max_tokens = 480, ignore_eos = true, stream = true }))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
            await reader.ReadLineAsync(Cancel);
        }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10));

        var m = await client.MetricsAsync();

        Assert.Equal(4, m["vllm:request_success_total"].Value([.. Series, ("finished_reason", "abort")]));
        Assert.Equal(4, m["vllm:e2e_request_latency_seconds"].Of("_count", Series));
    }

    [Fact]
    public async Task SleepMode_ShowsInTheSleepStateGauge_RefusesRequests_AndWakesUp()
    {
        await using var worker = await WorkerApp.StartAsync(WorkerApp.DevMode);
        using var client = worker.CreateClient();

        foreach (var (level, state) in new[] { (1, "weights_offloaded"), (2, "discard_all") })
        {
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/sleep?level={level}", null, Cancel)).StatusCode);
            Assert.True((await (await client.GetAsync("/is_sleeping", Cancel)).JsonAsync()).GetProperty("is_sleeping").GetBoolean());
            var asleep = await client.MetricsAsync();
            Assert.Equal(0, asleep["vllm:engine_sleep_state"].Value([.. Series, ("sleep_state", "awake")]));
            Assert.Equal(1, asleep["vllm:engine_sleep_state"].Value([.. Series, ("sleep_state", state)]));
            using var refused = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 2 });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("engine_sleeping", (await refused.JsonAsync()).GetProperty("error").GetProperty("code").GetString());

            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/wake_up", null, Cancel)).StatusCode);
            using var served = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello", max_tokens = 2 });
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal(1, (await client.MetricsAsync())["vllm:engine_sleep_state"].Value([.. Series, ("sleep_state", "awake")]));
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/sleep?level=3", null, Cancel)).StatusCode);
    }

    [Fact]
    public async Task MfuCounters_CountTheTinyModelsFlopsAndBytesByHand()
    {
        await using var plain = await WorkerApp.StartAsync(("Worker:EnablePrefixCaching", "false"));
        await using var mfu = await WorkerApp.StartAsync(("Metrics:EnableMfuMetrics", "true"), ("Worker:EnablePrefixCaching", "false"));
        // Five prompt tokens, ten generated: one prefill pass of 5 tokens, then 9 decode passes of one token each.
        var request = new { prompt = new[] { 65, 66, 67, 68, 69 }, max_tokens = 10, ignore_eos = true };
        foreach (var worker in new[] { plain, mfu })
        {
            using var response = await worker.CreateClient().PostJsonAsync("/v1/completions", request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));
        }

        // The tiny model (ModelBuilder's ModelShape.Tiny): 2 layers, hidden 64, 4 query heads and 2 KV heads of 16,
        // FFN 256, float32. Matrix weights per layer: q 64×64 + k 64×32 + v 64×32 + o 64×64 + up 64×256 + down 256×64
        // = 45,056; plus the LM head, 64 × vocab. The token and position embeddings and the bigram table are gathers.
        var vocab = JsonDocument.Parse(File.ReadAllText(Path.Combine(TinyModel.Directory, "genai_config.json"))).RootElement
            .GetProperty("model").GetProperty("vocab_size").GetInt64();
        var matrixWeights = 2 * 45_056 + 64 * vocab;
        // 14 tokens fed (5 + 9); causal attention sees positions 1..14 once each: 105 positions, each costing
        // QK + AV = 4 × 2 layers × 4 heads × 16 = 512 FLOPs.
        var flops = 2.0 * matrixWeights * 14 + 512 * 105;
        // K and V per token: 2 × 2 layers × 2 KV heads × 16 × 4 bytes = 512 bytes. Ten passes, each reading the
        // weights once and the cache after it (5, 6, …, 14 tokens: 95 in all).
        var weightFileBytes = Directory.EnumerateFiles(TinyModel.Directory, "*.onnx*").Sum(f => new FileInfo(f).Length);
        var readBytes = 10.0 * weightFileBytes + 512 * 95;
        var writeBytes = 512.0 * 14;

        var off = await plain.CreateClient().MetricsAsync();
        var on = await mfu.CreateClient().MetricsAsync();

        Assert.Equal(0, off["vllm:estimated_flops_per_gpu_total"].Value(Series));
        Assert.Equal(flops, on["vllm:estimated_flops_per_gpu_total"].Value(Series));
        Assert.Equal(readBytes, on["vllm:estimated_read_bytes_per_gpu_total"].Value(Series));
        Assert.Equal(writeBytes, on["vllm:estimated_write_bytes_per_gpu_total"].Value(Series));
    }

    [Fact]
    public async Task KvCacheMetrics_SampleBlockResidency()
    {
        await using var worker = await WorkerApp.StartAsync(("Metrics:KvCacheMetrics", "true"), ("Metrics:KvCacheMetricsSample", "1"), ("Worker:EnablePrefixCaching", "false"));
        using var client = worker.CreateClient();
        using var _ = await client.PostJsonAsync("/v1/completions", new { prompt = "Hello there", max_tokens = 40, ignore_eos = true });
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));

        var m = await client.MetricsAsync();

        // Without prefix caching a finished sequence frees its blocks at once: every sampled block was evicted.
        Assert.Equal(3, m["vllm:kv_block_lifetime_seconds"].Of("_count", Series));
        Assert.Equal(3, m["vllm:kv_block_idle_before_evict_seconds"].Of("_count", Series));
        Assert.Equal(0, m["vllm:kv_block_reuse_gap_seconds"].Of("_count", Series));
    }
}
