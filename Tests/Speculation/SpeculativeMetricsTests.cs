using System.Text.Json;
using Tests.Support;
using C = MetricsContract.MetricCatalog;

namespace Tests.Speculation;

/// <summary>vLLM's spec-decode counters, against the engine's own per-round record (the per-request statistics).</summary>
public class SpeculativeMetricsTests
{
    private static readonly (string, string)[] Series = [(C.ModelName, WorkerApp.ModelName), (C.Engine, "0")];

    [Fact]
    public async Task SpecDecodeCounters_EqualThePerRoundRecord_WithVllmsSemantics()
    {
        await using var worker = await WorkerApp.StartAsync(
            ("Worker:SpeculativeConfig", """{"method": "draft_model", "num_speculative_tokens": 4}"""),
            ("Worker:EnablePerRequestMetrics", "true"));
        using var client = worker.CreateClient();
        var startup = await client.MetricsAsync();
        var perPosition = startup["vllm:spec_decode_num_accepted_tokens_per_pos_total"];
        Assert.Equal(["0", "1", "2", "3"], perPosition.Samples.Select(s => s.Labels["position"]).Order());
        Assert.All(perPosition.Samples, s => Assert.Equal(0, s.Value));

        var records = new List<JsonElement>();
        foreach (var prompt in new[] { "The cat sat by the window.", "The river ran through the valley", "A good server answers every request." })
        {
            using var response = await client.PostJsonAsync("/v1/completions", new { prompt, max_tokens = 60, ignore_eos = true, temperature = 0, include_metrics = true });
            records.Add((await response.JsonAsync()).GetProperty("metrics").GetProperty("speculative_decoding"));
        }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));
        var m = await client.MetricsAsync();

        double Counter(string name) => m[name].Value(Series);
        var drafts = Counter("vllm:spec_decode_num_drafts_total");
        var draftTokens = Counter("vllm:spec_decode_num_draft_tokens_total");
        var accepted = Counter("vllm:spec_decode_num_accepted_tokens_total");
        var positions = Enumerable.Range(0, 4).Select(p => m["vllm:spec_decode_num_accepted_tokens_per_pos_total"].Value([.. Series, ("position", p.ToString())])).ToArray();

        Assert.Equal(records.Sum(r => r.GetProperty("num_spec_steps").GetInt32()), drafts);
        Assert.Equal(records.Sum(r => r.GetProperty("num_draft_tokens").GetInt32()), draftTokens);
        Assert.Equal(records.Sum(r => r.GetProperty("num_accepted_tokens").GetInt32()), accepted);
        Assert.True(accepted <= draftTokens && draftTokens <= 4 * drafts);
        Assert.Equal(accepted, positions.Sum());
        for (var p = 1; p < 4; p++)
        {
            Assert.True(positions[p] <= positions[p - 1], $"position {p} accepted more than position {p - 1}");
        }
        for (var p = 0; p < 4; p++)
        {
            Assert.Equal(records.Sum(r => r.GetProperty("accepted_per_position").EnumerateArray().ElementAtOrDefault(p).ValueKind == JsonValueKind.Number
                ? r.GetProperty("accepted_per_position")[p].GetInt64() : 0), positions[p]);
        }
        var first = records[0];
        Assert.Equal(Math.Round(1 + first.GetProperty("num_accepted_tokens").GetDouble() / first.GetProperty("num_spec_steps").GetDouble(), 4),
            first.GetProperty("mean_acceptance_length").GetDouble(), 4);
        Assert.Equal(drafts, m["vellum_spec_decode_draft_seconds"].Of("_count", Series));
        Assert.Equal(drafts, m["vellum_spec_decode_verify_seconds"].Of("_count", Series));
        // Every round but a sequence's last emits accepted + 1 tokens; generation tokens add up exactly.
        Assert.Equal(3 * 60, Counter("vllm:generation_tokens_total"));
    }

    [Fact]
    public async Task WithoutSpeculation_TheSpecDecodeFamiliesAreNotRegistered()
    {
        await using var worker = await WorkerApp.StartAsync();
        var m = await worker.CreateClient().MetricsAsync();
        Assert.DoesNotContain(m.Keys, name => name.Contains("spec_decode", StringComparison.Ordinal));
    }
}
