using System.Net;
using MetricsContract;
using Tests.Support;

namespace Tests.Metrics;

/// <summary>--custom-histogram-buckets: vLLM's family keys replace the buckets of the families sharing a list, and nothing else.</summary>
public class CustomHistogramBucketsTests
{
    [Fact]
    public async Task CustomBuckets_ReplaceEveryFamilyOfTheirKey_AndTheRestKeepVllmsBuckets()
    {
        await using var worker = await WorkerApp.StartAsync(("Metrics:CustomHistogramBuckets", """{"time_to_first_token": [0.05, 0.2, 1], "request_latency": [1, 10, 100]}"""));
        using var client = worker.CreateClient();
        using (var response = await client.PostJsonAsync("/v1/completions", new { prompt = "Snow", max_tokens = 2 }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var families = await client.MetricsAsync();
        Assert.Equal([0.05, 0.2, 1, double.PositiveInfinity], families["vllm:time_to_first_token_seconds"].BucketBounds());
        Assert.Equal([1, 10, 100, double.PositiveInfinity], families["vllm:e2e_request_latency_seconds"].BucketBounds());
        Assert.Equal([1, 10, 100, double.PositiveInfinity], families["vllm:request_queue_time_seconds"].BucketBounds());
        Assert.Equal([.. Buckets.InterTokenLatency.Bounds(0), double.PositiveInfinity], families["vllm:inter_token_latency_seconds"].BucketBounds());
        var catalog = await (await client.GetAsync("/metrics/catalog", TestContext.Current.CancellationToken)).JsonAsync();
        var ttft = catalog.GetProperty("families").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "vllm:time_to_first_token_seconds");
        Assert.Equal([0.05, 0.2, 1], ttft.GetProperty("buckets").EnumerateArray().Select(b => b.GetDouble()));
    }

    [Theory]
    [InlineData("""{"time_to_first_tokens": [1]}""", "unknown key \"time_to_first_tokens\"")]
    [InlineData("""{"request_latency": [1, 1, 2]}""", "\"request_latency\" is not strictly increasing")]
    [InlineData("""{"request_latency": [0, 1]}""", "\"request_latency\" has a bound that is not positive and finite")]
    [InlineData("""{"request_latency": []}""", "\"request_latency\" must be a non-empty list of numbers")]
    [InlineData("""[1, 2]""", "it must be a JSON object")]
    public void ABadSetting_IsRefusedNamingWhatIsWrong(string json, string why)
    {
        var error = Assert.Throws<InvalidOperationException>(() => CustomHistogramBuckets.Parse(json));
        Assert.Contains(why, error.Message);
    }

    [Fact]
    public async Task ABadSetting_StopsTheWorkerFromStarting()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => WorkerApp.StartAsync(("Metrics:CustomHistogramBuckets", """{"nope": [1]}""")));
        Assert.Contains("unknown key \"nope\"", error.ToString());
    }
}
