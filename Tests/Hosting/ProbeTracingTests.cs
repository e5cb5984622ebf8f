using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;
using Tests.Support;

namespace Tests.Hosting;

/// <summary>
/// Probes, load polls and scrapes stay out of the traces on both sides (ServiceDefaults): the gateway's health checks
/// every 5 s and its 50 ms load polls would otherwise bury the requests on the Aspire dashboard's traces page.
/// </summary>
public class ProbeTracingTests
{
    [Fact]
    public async Task HealthAndMetricsCalls_AreNotTraced_WhileRequestsAre()
    {
        var spans = new List<Activity>();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Processes.FreeTcpPort()}");
        builder.AddServiceDefaults();
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddInMemoryExporter(spans));
        builder.Services.AddHttpClient("probe");
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/v1/models", () => "ok");
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Urls.First();
        var client = app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("probe");

        foreach (var path in new[] { "/health", "/alive", "/metrics?name[]=vllm:num_requests_waiting", "/v1/models" })
        {
            using var response = await client.GetAsync(address + path, TestContext.Current.CancellationToken);
            Assert.True(response.IsSuccessStatusCode, path);
        }
        await app.StopAsync(TestContext.Current.CancellationToken);
        app.Services.GetRequiredService<TracerProvider>().ForceFlush();

        var traced = spans.Select(s => (s.Kind, Path: s.Kind == ActivityKind.Client
            ? new Uri((string)s.GetTagItem("url.full")!).AbsolutePath
            : (string)s.GetTagItem("url.path")!)).ToArray();
        Assert.Contains((ActivityKind.Server, "/v1/models"), traced);
        Assert.Contains((ActivityKind.Client, "/v1/models"), traced);
        Assert.DoesNotContain(traced, t => t.Path is "/health" or "/alive" or "/metrics");
    }
}
