using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Tests.Support;
using Worker.Engine;
using Worker.Hosting;
using Worker.Options;

namespace Tests.Hosting;

public class EngineHostTests
{
    [Fact]
    public async Task Health_IsUnhealthyUntilTheModelHasLoaded_ThenHealthy()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new ServeOptions { Model = TinyModel.Directory });
        using var host = new EngineHost(options, NullLoggerFactory.Instance, new RecordingLifetime());
        var context = new HealthCheckContext();

        Assert.Equal(HealthStatus.Unhealthy, (await host.CheckHealthAsync(context, TestContext.Current.CancellationToken)).Status);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await Eventually.ReadUntilAsync(() => host.Engine, engine => engine is not null, TimeSpan.FromSeconds(30));
        Assert.Equal(HealthStatus.Healthy, (await host.CheckHealthAsync(context, TestContext.Current.CancellationToken)).Status);
        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task ModelThatCannotLoad_StopsTheWorkerWithAnError()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new ServeOptions { Model = Path.Combine(Path.GetTempPath(), "no-such-model") });
        var lifetime = new RecordingLifetime();
        using var host = new EngineHost(options, NullLoggerFactory.Instance, lifetime);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.ExecuteTask!;

        Assert.True(lifetime.StopRequested);
        Assert.Equal(HealthStatus.Unhealthy, (await host.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);
        Environment.ExitCode = 0;
    }
}
