namespace Tests.Support;

/// <summary>
/// A program a test runs for real (promtool, prometheus, python3 with prometheus_client, Node.js with the OpenAI library). On a developer's
/// machine without it the test is skipped with the install command; in CI (CI=true) it must be there.
/// </summary>
public static class RequiredTool
{
    /// <summary>A Python that can import <paramref name="module"/>: Debian's /usr/bin/python3 first (where apt installs modules), then PATH's.</summary>
    public static string PythonWith(string module, string installHint)
    {
        foreach (var python in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(python, $"-c \"import {module}\"")
                {
                    RedirectStandardError = true,
                    RedirectStandardOutput = true,
                })!;
                process.WaitForExit();
                if (process.ExitCode == 0)
                {
                    return python;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }
        return Missing($"python3 with {module}", installHint);
    }

    /// <summary>Node.js, with the packages of <paramref name="folder"/> (relative to the repository) installed.</summary>
    public static string NodeWithPackages(string folder)
    {
        var node = Find("node", "apt-get install -y nodejs");
        return Directory.Exists(Path.Combine(Repository.Root, folder, "node_modules")) ? node : Missing($"{folder}'s npm packages", $"npm ci --prefix {folder}");
    }

    public static string Find(string program, string installHint)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
        return found ?? Missing(program, installHint);
    }

    /// <summary>CI=true or CI=1, as CI services set it.</summary>
    public static bool InCi => Environment.GetEnvironmentVariable("CI")?.Trim().ToLowerInvariant() is "true" or "1";

    private static string Missing(string program, string installHint)
    {
        var message = $"{program} is not installed ({installHint}).";
        if (InCi)
        {
            Assert.Fail(message + " CI must install it: see .ci/run.");
        }
        Assert.Skip(message);
        return "";
    }
}
