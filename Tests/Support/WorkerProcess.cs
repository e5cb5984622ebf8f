using System.Diagnostics;

namespace Tests.Support;

/// <summary>
/// A worker in a process of its own, started as an operator starts it (vLLM's flags, --urls), for what only a separate
/// process shows: its resident memory.
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private WorkerProcess(Process process, Uri address)
    {
        _process = process;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public HttpClient Client { get; }

    /// <summary>Starts Worker.dll from the build the tests run in, with <paramref name="environment"/> added; ready once /health answers.</summary>
    public static async Task<WorkerProcess> StartAsync(string arguments, params (string Name, string Value)[] environment)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0
        var worker = Path.Combine(Repository.Root, "Worker", "bin", configuration, "net10.0", "Worker.dll");
        var address = new Uri($"http://127.0.0.1:{Processes.FreeTcpPort()}");
        var start = new ProcessStartInfo("dotnet", $"\"{worker}\" {arguments} --urls {address}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = new WorkerProcess(process, address);
        var healthy = await Eventually.ReadUntilAsync(async () =>
        {
            try
            {
                using var response = await started.Client.GetAsync("/health", TestContext.Current.CancellationToken);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, ok => ok || process.HasExited, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        Assert.True(healthy, $"The worker process did not become healthy (exited: {process.HasExited}).");
        return started;
    }

    /// <summary>Resident memory now, in bytes (VmRSS).</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Processes.StopAsync(_process);
    }
}
