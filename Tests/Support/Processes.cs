using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tests.Support;

public static class Processes
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, string arguments, string? standardInput = null)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
        };
        using var process = Process.Start(start)!;
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
            process.StandardInput.Close();
        }
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output + await error);
    }

    /// <summary>Runs a Python <paramref name="script"/> (passed with -c) on <paramref name="standardInput"/>.</summary>
    public static Task<(int ExitCode, string Output)> RunPythonAsync(string python, string script, string standardInput) =>
        RunAsync(python, $"-c \"{script.Replace("\"", "\\\"")}\"", standardInput);

    /// <summary>Ends a process the tests started (and anything it started), if it still runs, and releases it.</summary>
    public static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
