using System.Diagnostics;

namespace Tests.Support;

/// <summary>
/// A worker or a gateway in a process of its own, started as an operator starts it (vLLM's flags, --urls), for what
/// only a separate process shows: its resident memory, or what happens when it is killed.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ServiceProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    /// <summary>Starts Worker.dll from the build the tests run in, with <paramref name="environment"/> added; ready once /health answers.</summary>
    public static Task<ServiceProcess> StartWorkerAsync(string arguments, params (string Name, string Value)[] environment) =>
        StartAsync("Worker", arguments, Processes.FreeTcpPort(), environment);

    /// <summary>A worker on the tiny model on a given port (to restart one where it was).</summary>
    public static Task<ServiceProcess> StartTinyWorkerAsync(int port) =>
        StartAsync("Worker", $"--model \"{TinyModel.Directory}\" --served-model-name {WorkerApp.ModelName}", port, []);

    /// <summary>Starts Gateway.dll (built with the AppHost the tests reference) with the given configuration arguments.</summary>
    public static Task<ServiceProcess> StartGatewayAsync(string arguments) => StartAsync("Gateway", arguments, Processes.FreeTcpPort(), []);

    /// <summary>Runs Worker.dll to its end (one that should not start): its exit code and what it wrote; it fails a worker still running after 60 s.</summary>
    public static async Task<(int ExitCode, string Output)> RunWorkerAsync(string arguments)
    {
        var process = Process.Start(StartInfo("Worker", arguments))!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            var exited = await Task.WhenAny(process.WaitForExitAsync(TestContext.Current.CancellationToken), Task.Delay(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
            Assert.True(process.HasExited, "the worker is still running after 60 s");
            await exited;
            return (process.ExitCode, await output + await error);
        }
        finally
        {
            await Processes.StopAsync(process);
        }
    }

    /// <summary>The service's dll from the build the tests run in, with its own folder as content root: it reads its appsettings.json as when it is deployed.</summary>
    private static ProcessStartInfo StartInfo(string project, string arguments)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0
        var output = Path.Combine(Repository.Root, project, "bin", configuration, "net10.0");
        return new ProcessStartInfo("dotnet", $"\"{Path.Combine(output, project + ".dll")}\" {arguments}")
        {
            WorkingDirectory = output,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
    }

    private static async Task<ServiceProcess> StartAsync(string project, string arguments, int port, (string Name, string Value)[] environment)
    {
        var address = new Uri($"http://127.0.0.1:{port}");
        var start = StartInfo(project, $"{arguments} --urls {address}");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = new ServiceProcess(process, address);
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
        Assert.True(healthy, $"The {project} process did not become healthy (exited: {process.HasExited}).");
        return started;
    }

    /// <summary>Resident memory now, in bytes (VmRSS).</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>Kills the process outright (SIGKILL), as a crash or an OOM kill would: no shutdown, no goodbye on its connections.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Stops the process where it is (SIGSTOP): its sockets still accept connections, nothing answers them.</summary>
    public void Freeze()
    {
        if (SendSignal(_process.Id, SigStop) != 0)
        {
            throw new InvalidOperationException($"SIGSTOP to {_process.Id} failed");
        }
    }

    private const int SigStop = 19; // Linux

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Processes.StopAsync(_process);
    }
}
