using System.Text.Json.Nodes;
using Tests.KvTransfer;
using Tests.Support;

namespace Tests.Lora;

/// <summary>P/D under LoRA: the decode worker reads KV the prefill worker computed under the request's own adapter, never another's.</summary>
public class LoraPrefillDecodeTests(LoraWorkerFixture single) : IClassFixture<LoraWorkerFixture>
{
    private static readonly (string, string)[] Series = [("model_name", WorkerApp.ModelName), ("engine", "0")];

    private static JsonObject Body(string model, string tag) => new()
    {
        ["model"] = model,
        ["prompt"] = PrefillDecodeEquivalenceTests.Prompt(tag, 25),
        ["max_tokens"] = 12,
        ["temperature"] = 0,
        ["ignore_eos"] = true,
    };

    private async Task<string> AloneAsync(JsonObject body)
    {
        using var client = single.Worker.CreateClient();
        return await PrefillDecodeWorkers.TextAsync(await client.PostRawAsync("/v1/completions", body.ToJsonString()));
    }

    [Fact]
    public async Task TheDecodeWorker_ReadsTheAdaptersKv_ButRefusesKvOfAnotherAdapter_AndComputesThePrompt()
    {
        await using var pair = await PrefillDecodeWorkers.StartAsync(abortRequestTimeout: 1,
            both: [("Worker:Model", TinyLoraModel.Directory), ("Worker:EnableLora", "true"), .. TinyLoraModel.Modules("alpha", "beta")]);

        var alpha = Body("alpha", "lora-pd");
        Assert.Equal(await AloneAsync(alpha), await pair.RunAsync(alpha, "lora-pd-1"));
        var read = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(1, read["vllm:nixl_bytes_transferred"].Of("_count", Series));

        // beta's decode leg given the KV alpha's prefill computed: refused at the read, computed under beta.
        var beta = Body("beta", "lora-pd-other");
        var alphaKv = await pair.PrefillAsync(Body("alpha", "lora-pd-other"), "lora-pd-2");
        Assert.Equal(await AloneAsync(beta), await PrefillDecodeWorkers.TextAsync(await pair.DecodeAsync(beta, alphaKv, "lora-pd-2")));
        var refused = await pair.ConsumerClient.MetricsAsync();
        Assert.Equal(1, refused["vllm:nixl_num_failed_transfers_total"].Value(Series));
        Assert.Equal(1, refused["vllm:nixl_bytes_transferred"].Of("_count", Series));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Consumer));
        WorkerApp.AssertHoldsNothing(await PrefillDecodeWorkers.WaitUntilFreedAsync(pair.Producer));
    }
}
