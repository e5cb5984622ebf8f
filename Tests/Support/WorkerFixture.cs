using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Worker.Engine;

namespace Tests.Support;

/// <summary>One worker on the tiny model, in memory, shared by the API tests; ready once the model is loaded.</summary>
public sealed class WorkerFixture : WebApplicationFactory<EngineHost>, IAsyncLifetime
{
    public const string ModelName = "tiny-test";

    public LlmEngine Engine => Services.GetRequiredService<EngineHost>().Engine!;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Worker:Model", TinyModel.Directory);
        builder.UseSetting("Worker:ServedModelName:0", ModelName);
        builder.UseSetting("Worker:MaxNumSeqs", "8");
    }

    public async ValueTask InitializeAsync()
    {
        using var client = CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await client.GetAsync("/health")).StatusCode != System.Net.HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "The worker did not become healthy within 30 s.");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the engine serves nobody; returns its counts then (or at the timeout).</summary>
    public async Task<EngineSnapshot> WaitForIdleEngineAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var snapshot = Engine.Snapshot;
            if (snapshot is { ActiveRequests: 0, Running: 0, Waiting: 0 } || DateTime.UtcNow > deadline)
            {
                return snapshot;
            }
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// Nothing is held for requests that are gone: no request, sequence or used block, and every live generator
    /// is a cached prefix whose blocks are counted as cached.
    /// </summary>
    public static void AssertHoldsNothing(EngineSnapshot idle)
    {
        Assert.Equal(
            new { ActiveRequests = 0, Running = 0, Waiting = 0, UsedBlocks = 0, LiveGenerators = idle.PrefixPoolEntries, Blocks = idle.TotalBlocks },
            new { idle.ActiveRequests, idle.Running, idle.Waiting, idle.UsedBlocks, idle.LiveGenerators, Blocks = idle.FreeBlocks + idle.CachedBlocks });
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await base.DisposeAsync();
}

/// <summary>A worker of one test class alone, for tests that assert on engine-wide counts while other classes run.</summary>
public sealed class DedicatedWorkerFixture : IAsyncLifetime
{
    public WorkerFixture Worker { get; } = new();

    public ValueTask InitializeAsync() => Worker.InitializeAsync();

    public ValueTask DisposeAsync() => ((IAsyncDisposable)Worker).DisposeAsync();
}
