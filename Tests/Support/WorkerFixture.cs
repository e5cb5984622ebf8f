using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Worker.Engine;
using Worker.Hosting;

namespace Tests.Support;

/// <summary>A worker on the tiny model, in memory, with the given settings; ready once the model is loaded.</summary>
public class WorkerApp(params (string Key, string Value)[] settings) : WebApplicationFactory<EngineHost>
{
    public const string ModelName = "tiny-test";

    /// <summary>vLLM's VLLM_SERVER_DEV_MODE=1: the sleep endpoints exist.</summary>
    public static readonly (string Key, string Value) DevMode = ("VLLM_SERVER_DEV_MODE", "1");

    public LlmEngine Engine => Services.GetRequiredService<EngineHost>().Engine!;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Worker:Model", TinyModel.Directory);
        builder.UseSetting("Worker:ServedModelName:0", ModelName);
        builder.UseSetting("Worker:MaxNumSeqs", "8");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public static async Task<WorkerApp> StartAsync(params (string Key, string Value)[] settings)
    {
        var app = new WorkerApp(settings);
        await app.WaitUntilHealthyAsync();
        return app;
    }

    /// <summary>The same worker on Kestrel with a real socket, for what only a real server does (uploads, connections, header limits).</summary>
    public static async Task<WorkerApp> StartOnKestrelAsync(params (string Key, string Value)[] settings)
    {
        var app = new WorkerApp(settings);
        // Listen through the options, not UseKestrel(port): that overload rewrites the server's addresses after Build,
        // racing Kestrel binding on its own thread (dotnet/aspnetcore#67714), and fails one start in many.
        app.UseKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        app.StartServer();
        await app.WaitUntilHealthyAsync();
        return app;
    }

    /// <summary>Where a worker started with <see cref="StartOnKestrelAsync"/> listens.</summary>
    public Uri Address => new(Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
        .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First());

    public async Task WaitUntilHealthyAsync()
    {
        using var client = CreateClient();
        var status = await Eventually.ReadUntilAsync(async () =>
        {
            using var response = await client.GetAsync("/health", TestContext.Current.CancellationToken);
            return response.StatusCode;
        }, status => status == System.Net.HttpStatusCode.OK, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50));
        Assert.True(status == System.Net.HttpStatusCode.OK, "The worker did not become healthy within 30 s.");
    }

    /// <summary>Waits until the engine serves nobody; returns its counts then (or at the timeout).</summary>
    public Task<EngineSnapshot> WaitForIdleEngineAsync(TimeSpan timeout) =>
        Eventually.ReadUntilAsync(() => Engine.Snapshot, snapshot => snapshot is { ActiveRequests: 0, Running: 0, Waiting: 0 }, timeout);

    /// <summary>
    /// Nothing is held for requests that are gone: no request, sequence or used block, and every live generator
    /// is a cached prefix whose blocks are counted as cached.
    /// </summary>
    public static void AssertHoldsNothing(EngineSnapshot idle)
    {
        Assert.Equal(
            new { ActiveRequests = 0, Running = 0, Waiting = 0, UsedBlocks = 0, SlotsInUse = idle.PrefixPoolEntries, Blocks = idle.TotalBlocks },
            new { idle.ActiveRequests, idle.Running, idle.Waiting, idle.UsedBlocks, idle.SlotsInUse, Blocks = idle.FreeBlocks + idle.CachedBlocks });
    }
}

/// <summary>The worker most API tests share, started once per test run.</summary>
public sealed class WorkerFixture : WorkerApp, IAsyncLifetime
{
    public ValueTask InitializeAsync() => new(WaitUntilHealthyAsync());

    async ValueTask IAsyncDisposable.DisposeAsync() => await base.DisposeAsync();
}

/// <summary>A worker of one test class alone, for tests that assert on engine-wide counts while other classes run.</summary>
public sealed class DedicatedWorkerFixture : IAsyncLifetime
{
    public WorkerApp Worker { get; } = new();

    public ValueTask InitializeAsync() => new(Worker.WaitUntilHealthyAsync());

    public ValueTask DisposeAsync() => Worker.DisposeAsync();
}
