using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using ServiceDefaults.Metrics;
using Tests.Support;
using C = MetricsContract.MetricCatalog;
using MetricsContract;

namespace Tests.Metrics;

/// <summary>vLLM's rule: deprecated in X.Y, hidden in X.Y+1 unless --show-hidden-metrics-for-version=X.Y, removed in X.Y+2.</summary>
public class DeprecationPolicyTests
{
    private static readonly string[] Aliases = ["vllm:gpu_cache_usage_perc", "vllm:gpu_prefix_cache_queries_total", "vllm:gpu_prefix_cache_hits_total", "vllm:time_per_output_token_seconds"];
    private static readonly (string, string)[] Series = [(C.ModelName, WorkerApp.ModelName), (C.Engine, "0")];

    private static MetricsPolicy Policy(string? showHidden, Version version) =>
        MetricsPolicy.From(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Metrics:ShowHiddenMetricsForVersion"] = showHidden }).Build(), version);

    [Fact]
    public void ThisBuild_IsVersion02_AndEveryDeprecatedFamilyNamesALiveSuccessorInItsHelp()
    {
        Assert.Equal(new Version(0, 2), MetricsPolicy.CurrentVersion);
        foreach (var family in C.Families.Where(f => f.Deprecated is not null))
        {
            Assert.NotEqual(MetricStability.Removed, new MetricsPolicy().Stability(family));
            Assert.EndsWith($"DEPRECATED: use {family.Deprecated!.Successor} instead.", family.Description);
            Assert.NotNull(C.Find(family.Deprecated.Successor));
            Assert.Null(C.Find(family.Deprecated.Successor)!.Deprecated);
        }
    }

    [Theory]
    [InlineData("0.1", 0, 1, true)]   // deprecated in 0.1: shown in 0.1
    [InlineData("0.1", 0, 2, false)]  // hidden in 0.2
    [InlineData("0.1", 0, 3, false)]  // removed in 0.3
    public void Stability_FollowsTheVersion(string deprecatedIn, int major, int minor, bool served)
    {
        var family = C.GpuCacheUsagePerc with { Deprecated = new Deprecation(Version.Parse(deprecatedIn), C.KvCacheUsage.Name) };
        Assert.Equal(served, Policy(null, new Version(major, minor)).IsRegistered(family));
    }

    [Fact]
    public void ShowHidden_WithThePreviousMinor_BringsHiddenFamiliesBack_ButNotRemovedOnes()
    {
        var hiddenIn02 = C.GpuCacheUsagePerc;
        var removedIn03 = C.GpuCacheUsagePerc with { Deprecated = new Deprecation(new Version(0, 0), C.KvCacheUsage.Name) };

        var policy = Policy("0.1", new Version(0, 2));

        Assert.Equal(MetricStability.Shown, policy.Stability(hiddenIn02));
        Assert.True(policy.IsRegistered(hiddenIn02));
        Assert.False(policy.IsRegistered(removedIn03));
    }

    [Theory]
    [InlineData("0.0")]
    [InlineData("0.2")]
    [InlineData("1.1")]
    [InlineData("0.1.1")]
    [InlineData("latest")]
    public void ShowHidden_AnyOtherVersion_IsRefusedNamingTheAcceptedOne(string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Policy(value, new Version(0, 2)));
        Assert.Contains("0.1", error.Message);
        Assert.Contains(value, error.Message);
    }

    [Fact]
    public void ShowHidden_AtStartUp_AWrongVersionStopsTheWorker()
    {
        using var worker = new WorkerApp(("Metrics:ShowHiddenMetricsForVersion", "0.0"));
        var error = Assert.ThrowsAny<Exception>(() => worker.CreateClient());
        Assert.Contains("--show-hidden-metrics-for-version=0.0 is not accepted", error.ToString());
        Assert.Contains("the previous minor version, 0.1,", error.ToString());
    }

    [Fact]
    public async Task RetiredVllmNames_AreAbsentByDefault()
    {
        await using var worker = await WorkerApp.StartAsync();
        var families = await worker.CreateClient().MetricsAsync();
        Assert.All(Aliases, alias => Assert.DoesNotContain(alias, families.Keys));
    }

    [Fact]
    public async Task RetiredVllmNames_WithThePreviousMinor_CarryTheirSuccessorsValues()
    {
        await using var worker = await WorkerApp.StartAsync(("Metrics:ShowHiddenMetricsForVersion", "0.1"));
        using var client = worker.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            using var _ = await client.PostJsonAsync("/v1/completions", new { prompt = "The river ran through the valley and past the old mill, where the miller counted sacks of flour every morning", max_tokens = 12, ignore_eos = true });
        }
        await worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));

        var m = await client.MetricsAsync();

        Assert.Equal(m["vllm:prefix_cache_queries_total"].Value(Series), m["vllm:gpu_prefix_cache_queries_total"].Value(Series));
        Assert.Equal(m["vllm:prefix_cache_hits_total"].Value(Series), m["vllm:gpu_prefix_cache_hits_total"].Value(Series));
        Assert.True(m["vllm:gpu_prefix_cache_hits_total"].Value(Series) > 0);
        Assert.Equal(m["vllm:kv_cache_usage_perc"].Value(Series), m["vllm:gpu_cache_usage_perc"].Value(Series));
        Assert.Equal(m["vllm:inter_token_latency_seconds"].Of("_count", Series), m["vllm:time_per_output_token_seconds"].Of("_count", Series));
        Assert.Equal(m["vllm:inter_token_latency_seconds"].BucketBounds(), m["vllm:time_per_output_token_seconds"].BucketBounds());
        Assert.StartsWith("Fraction", m["vllm:gpu_cache_usage_perc"].Help);
        Assert.EndsWith("DEPRECATED: use vllm:kv_cache_usage_perc instead.", m["vllm:gpu_cache_usage_perc"].Help);
    }

    [Fact]
    public async Task MetricsCatalog_ListsEveryFamily_WithItsStabilityAndSuccessor()
    {
        await using var worker = await WorkerApp.StartAsync();
        using var client = worker.CreateClient();
        var catalog = JsonDocument.Parse(await client.GetStringAsync(CatalogEndpoint.Path, TestContext.Current.CancellationToken)).RootElement;

        Assert.Equal("0.2", catalog.GetProperty("version").GetString());
        var families = catalog.GetProperty("families").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(C.Families.Select(f => f.Name).Order(), families.Keys.Order());
        var alias = families["vllm:gpu_cache_usage_perc"];
        Assert.Equal("hidden", alias.GetProperty("stability").GetString());
        Assert.Equal("0.1", alias.GetProperty("deprecated_since").GetString());
        Assert.Equal("0.2", alias.GetProperty("hidden_from").GetString());
        Assert.Equal("0.3", alias.GetProperty("removed_in").GetString());
        Assert.Equal("vllm:kv_cache_usage_perc", alias.GetProperty("successor").GetString());
        Assert.False(alias.GetProperty("registered").GetBoolean());
        var ttft = families["vllm:request_prompt_tokens"];
        Assert.Equal([1, 2, 5, 10, 20, 50, 100, 200, 500], ttft.GetProperty("buckets").EnumerateArray().Select(b => b.GetDouble()));
        Assert.Equal("vllm:prompt_tokens_total", families["vllm:prompt_tokens"].GetProperty("exposed_name").GetString());
    }
}
