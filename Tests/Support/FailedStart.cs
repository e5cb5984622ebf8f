using Microsoft.Extensions.Logging.Testing;
using Worker.Hosting;
using Worker.Options;

namespace Tests.Support;

/// <summary>An engine host started with settings it cannot serve: it must ask the application to stop and log why.</summary>
public static class FailedStart
{
    /// <returns>The messages of the exceptions the host logged.</returns>
    public static async Task<IReadOnlyList<string>> ErrorsOfAsync(ServeOptions settings)
    {
        var logs = new FakeLogCollector();
        var lifetime = new RecordingLifetime();
        using var host = new EngineHost(Microsoft.Extensions.Options.Options.Create(settings), new Microsoft.Extensions.Logging.LoggerFactory([new FakeLoggerProvider(logs)]), lifetime);

        await host.StartAsync(TestContext.Current.CancellationToken);
        await host.ExecuteTask!;

        Assert.True(lifetime.StopRequested, "the worker did not stop");
        Environment.ExitCode = 0; // the host set it for the process; this process is the test run
        return logs.GetSnapshot().Select(r => r.Exception?.Message).OfType<string>().ToArray();
    }
}
