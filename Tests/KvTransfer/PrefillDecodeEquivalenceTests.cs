using System.Text.Json.Nodes;
using Tests.Support;

namespace Tests.KvTransfer;

/// <summary>A prefill worker and a decode worker shared by the equivalence tests.</summary>
public sealed class PrefillDecodePairFixture : IAsyncLifetime
{
    public PrefillDecodeWorkers Workers { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Workers = await PrefillDecodeWorkers.StartAsync();

    public ValueTask DisposeAsync() => Workers.DisposeAsync();
}

/// <summary>
/// P/D changes where a prompt is computed, never what comes out: the decode worker continuing from KV it read gives
/// the tokens a single worker gives computing the prompt itself, greedy or seeded, short or long, streamed or whole,
/// and again when its own prefix cache already holds part of the prompt.
/// </summary>
public class PrefillDecodeEquivalenceTests(PrefillDecodePairFixture pair, WorkerFixture single) : IClassFixture<PrefillDecodePairFixture>
{
    public static TheoryData<string, int, double, long?, bool> Cases => new()
    {
        { "short-greedy", 2, 0, null, false },
        { "short-seeded-streamed", 2, 0.9, 11, true },
        { "long-greedy-streamed", 30, 0, null, true },
        { "long-seeded", 30, 0.9, 5, false },
        { "longest-seeded-streamed", 40, 1.0, 3, true },
    };

    /// <summary>A prompt of <paramref name="sentences"/> sentences, its first block unlike any other case's.</summary>
    internal static string Prompt(string tag, int sentences) =>
        $"[{tag}] " + string.Concat(Enumerable.Range(1, sentences).Select(i => $"Rivers {i} run. "));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task TheDecodeWorker_GivesTheSingleWorkersTokens_FromReadKv_AndAgainFromItsOwnPrefixCache(string tag, int sentences, double temperature, long? seed, bool stream)
    {
        var body = new JsonObject
        {
            ["prompt"] = Prompt(tag, sentences),
            ["max_tokens"] = 24,
            ["temperature"] = temperature,
            ["seed"] = seed,
            ["ignore_eos"] = true,
            ["stream"] = stream,
        };
        using var client = single.CreateClient();
        var expected = await PrefillDecodeWorkers.TextAsync(await client.PostRawAsync("/v1/completions", body.ToJsonString()));

        var read = await pair.Workers.RunAsync(body, $"pd-{tag}-1");
        // The decode worker now keeps this prompt's blocks: the second time it reads only what its cache lacks.
        var cachedThenRead = await pair.Workers.RunAsync(body, $"pd-{tag}-2");

        Assert.Equal(expected, read);
        Assert.Equal(expected, cachedThenRead);
    }

    [Fact]
    public async Task TheDecodeWorker_ReadsOnlyTheBlocksItsPrefixCacheLacks()
    {
        var first = new JsonObject { ["prompt"] = Prompt("shared-prefix", 20), ["max_tokens"] = 4, ["temperature"] = 0 };
        var longer = new JsonObject { ["prompt"] = Prompt("shared-prefix", 30), ["max_tokens"] = 8, ["temperature"] = 0, ["include_metrics"] = true };
        await pair.Workers.RunAsync(first, "pd-prefix-1");

        using var response = await pair.Workers.DecodeAsync(longer, await pair.Workers.PrefillAsync(longer, "pd-prefix-2"), "pd-prefix-2");
        var answer = await response.JsonAsync();
        using var client = single.CreateClient();
        var alone = (JsonObject)longer.DeepClone();
        alone.Remove("include_metrics");
        var expected = await PrefillDecodeWorkers.TextAsync(await client.PostRawAsync("/v1/completions", alone.ToJsonString()));

        var prompt = answer.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        var read = answer.GetProperty("metrics").GetProperty("kv_transfer").GetProperty("external_prompt_tokens").GetInt32();
        Assert.Equal(expected, answer.GetProperty("choices")[0].GetProperty("text").GetString());
        // The first prompt's whole blocks came from the decode worker's own cache, the rest (but the last token) was read.
        var local = prompt - 1 - read;
        Assert.InRange(read, 1, prompt - 2);
        Assert.Equal(0, local % 16);
    }
}
