namespace Tests.Support;

/// <summary>
/// A program a test runs for real (promtool, prometheus, python3 with prometheus_client). On a developer's
/// machine without it the test is skipped with the install command; in CI (CI=true) it must be there.
/// </summary>
public static class RequiredTool
{
    public static string Find(string program, string installHint)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
        if (found is not null)
        {
            return found;
        }
        var message = $"{program} is not installed ({installHint}).";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(message + " CI must install it: see .ci/run.");
        }
        Assert.Skip(message);
        return "";
    }
}
