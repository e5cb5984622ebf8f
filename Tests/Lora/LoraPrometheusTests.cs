using System.Globalization;
using System.Net;
using Tests.Integration;
using Tests.Support;

namespace Tests.Lora;

/// <summary>vllm:lora_requests_info as a real Prometheus (Debian's package) stores it, and the query routers run over it.</summary>
public class LoraPrometheusTests
{
    [Fact]
    public async Task Prometheus_StoresEachAdapterSet_AndTheNewestSaysWhatRunsNow()
    {
        var prometheusBinary = RequiredTool.Find("prometheus", "apt-get install -y prometheus");
        await using var worker = await WorkerApp.StartOnKestrelAsync(
            [("Worker:Model", TinyLoraModel.Directory), ("Worker:EnableLora", "true"), ("Worker:MaxLoras", "2"), .. TinyLoraModel.Modules("alpha", "beta")]);
        await using var prometheus = await PrometheusServer.StartAsync(prometheusBinary, $"'{worker.Address.Host}:{worker.Address.Port}'");
        using var client = worker.CreateClient();
        foreach (var model in new[] { "alpha", "beta" })
        {
            using var response = await client.PostJsonAsync("/v1/completions", new { model, prompt = "Snow fell on the", max_tokens = 8, ignore_eos = true });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var sets = await prometheus.QueryUntilAsync("vllm:lora_requests_info", result => result.EnumerateArray().Any(r => Label(r, "running_lora_adapters") == "beta"));
        Assert.All(sets.EnumerateArray(), r => Assert.Equal("2", Label(r, "max_lora")));
        Assert.Contains(sets.EnumerateArray(), r => Label(r, "running_lora_adapters") == "alpha");
        // The router's reading: the series updated last (its value is the time of the update).
        var newest = await prometheus.QueryUntilAsync("topk(1, vllm:lora_requests_info)", result => result.GetArrayLength() == 1 && Label(result[0], "running_lora_adapters") == "");
        var updated = double.Parse(newest[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        Assert.InRange(updated, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        var resident = await prometheus.QueryUntilAsync("topk(1, vellum_lora_resident_info)", result => result.GetArrayLength() == 1);
        Assert.Equal("alpha,beta", Label(resident[0], "resident_lora_adapters"));
    }

    /// <summary>A label's value; Prometheus stores an empty one (no adapter running) as no label at all.</summary>
    private static string Label(System.Text.Json.JsonElement series, string name) =>
        series.GetProperty("metric").TryGetProperty(name, out var value) ? value.GetString()! : "";
}
