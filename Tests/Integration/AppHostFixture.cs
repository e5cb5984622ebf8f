using Aspire.Hosting;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tests.Support;

namespace Tests.Integration;

/// <summary>
/// The whole system as `dotnet run --project AppHost` starts it (gateway + two workers on the embedded
/// default model, here with exemplars on), in its P/D topology (--PrefillWorkerCount 1: the two workers decode, a
/// third prefills long prompts), started once for every integration test: each start costs about 15 s on 2 cores.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private DistributedApplication? _app;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The AppHost has not started.");

    /// <summary>A plain client for a resource's http endpoint: no resilience handler, so long streams are not cut.</summary>
    public HttpClient CreateClient(string resource) => new() { BaseAddress = App.GetEndpoint(resource, "http"), Timeout = TimeSpan.FromMinutes(2) };

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        // The embedded model is built into a fresh cache so the run proves the first-start path.
        var cache = TestFolders.New("cache");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
            ["--Worker:DownloadDir", cache, "--Metrics:EnableExemplars", "true", "--LocalPrometheus", "false", "--PrefillWorkerCount", "1"], timeout.Token);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        _app = await builder.BuildAsync(timeout.Token);
        await _app.StartAsync(timeout.Token);
        await _app.ResourceNotifications.WaitForResourceHealthyAsync("gateway", timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
