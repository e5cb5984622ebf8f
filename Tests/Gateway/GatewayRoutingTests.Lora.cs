using System.Net;
using System.Net.Http.Json;
using Tests.Support;

namespace Tests.Gateway;

/// <summary>LoRA affinity in the load-aware policy, from the workers' polled vllm:lora_requests_info and vellum_lora_resident_info.</summary>
public partial class GatewayRoutingTests
{
    private static Task<ServiceProcess> LoraWorkerAsync() => ServiceProcess.StartWorkerAsync(
        $"--model \"{TinyLoraModel.Directory}\" --served-model-name {WorkerApp.ModelName} --enable-lora --max-loras 1 --max-num-seqs 2 " +
        $"--lora-modules alpha={TinyLoraModel.Adapter("alpha")} beta={TinyLoraModel.Adapter("beta")}", WorkerApp.DevMode);

    [Fact]
    public async Task RequestsForAnAdapter_GoToTheWorkerWhereItIsResident_UntilThatWorkerIsSaturated()
    {
        await using var a = await LoraWorkerAsync();
        await using var b = await LoraWorkerAsync();
        await using var gateway = await GatewayAsync("", ("a", a), ("b", b));
        // Each worker's one slot holds a different adapter.
        await CompleteAsync(a, "alpha", "Warm alpha");
        await CompleteAsync(b, "beta", "Warm beta");
        var seen = await Eventually.ReadUntilAsync(() => ResidentAsync(gateway, a, b), r => r == ("alpha", "beta"), TimeSpan.FromSeconds(10));
        Assert.Equal(("alpha", "beta"), seen);

        for (var i = 0; i < 8; i++)
        {
            await CompleteAsync(gateway, "alpha", $"Alpha {i}");
            await CompleteAsync(gateway, "beta", $"Beta {i}");
        }
        var served = await ServedAsync(gateway);
        Assert.Equal((8, 8), (served.GetValueOrDefault("a"), served.GetValueOrDefault("b")));
        // Every residency a worker ever had stays a series: a never took beta into its slot, nor b alpha.
        Assert.Equal(["alpha"], await EverResidentAsync(a));
        Assert.Equal(["beta"], await EverResidentAsync(b));

        // a saturated (four waiting, held there): alpha goes to b, which takes it into its slot.
        await using (await HoldBusyAsync(a, gateway))
        {
            for (var i = 0; i < 4; i++)
            {
                await CompleteAsync(gateway, "alpha", $"Overflow {i}");
            }
        }
        served = await ServedAsync(gateway);
        Assert.Equal((8, 12), (served.GetValueOrDefault("a"), served.GetValueOrDefault("b")));
        TestContext.Current.SendDiagnosticMessage($"LoRA routing: 8 alpha → a (resident), 8 beta → b (resident), then with a saturated 4 alpha → b");
    }

    [Fact]
    public async Task ModelsThroughTheGateway_ListEveryWorkersAdaptersOnce()
    {
        await using var a = await LoraWorkerAsync();
        await using var b = await LoraWorkerAsync();
        await using var gateway = await GatewayAsync("", ("a", a), ("b", b));

        var models = await Eventually.ReadUntilAsync(async () =>
        {
            using var response = await gateway.Client.GetAsync("/v1/models", Cancel);
            return response.IsSuccessStatusCode ? (await response.JsonAsync()).GetProperty("data").EnumerateArray().Select(m => (m.GetProperty("id").GetString(), m.GetProperty("parent").GetString())).ToArray() : [];
        }, m => m.Length == 3, TimeSpan.FromSeconds(10));

        Assert.Equal([(WorkerApp.ModelName, null), ("alpha", WorkerApp.ModelName), ("beta", WorkerApp.ModelName)], models.OrderBy(m => m.Item1 == WorkerApp.ModelName ? "" : m.Item1));
    }

    private static async Task CompleteAsync(ServiceProcess target, string model, string prompt)
    {
        using var response = await target.Client.PostJsonAsync("/v1/completions", new { model, prompt, max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>The adapters the gateway last read as resident on a and on b.</summary>
    private static async Task<(string?, string?)> ResidentAsync(ServiceProcess gateway, ServiceProcess a, ServiceProcess b)
    {
        var loads = await gateway.Client.GetFromJsonAsync<System.Text.Json.JsonElement>("/routing/loads", Cancel);
        string? Of(ServiceProcess worker) => loads.EnumerateArray()
            .Where(w => new Uri(w.GetProperty("address").GetString()!).Port == worker.Address.Port)
            .Select(w => w.GetProperty("resident_lora_adapters") is { ValueKind: System.Text.Json.JsonValueKind.Array } r ? string.Join(',', r.EnumerateArray().Select(x => x.GetString())) : null)
            .FirstOrDefault();
        return (Of(a), Of(b));
    }

    private static async Task<string[]> EverResidentAsync(ServiceProcess worker) =>
        (await worker.Client.MetricsAsync())["vellum_lora_resident_info"].Samples.Select(s => s.Labels["resident_lora_adapters"])
            .Where(r => r.Length > 0).Distinct().Order().ToArray();
}
