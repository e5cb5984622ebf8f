namespace Tests.Support;

/// <summary>Scratch folders for one test run, under one root that goes when the run ends so models do not pile up in /tmp.</summary>
public static class TestFolders
{
    private static readonly Lazy<string> RunRoot = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "vellum-tests", $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { } // a child process still writing: the folder is scratch, leaving it is harmless
        };
        return root;
    });

    /// <summary>A fresh folder path (not yet created) named for what it holds.</summary>
    public static string New(string name) => Path.Combine(RunRoot.Value, $"{name}-{Guid.NewGuid():N}");
}
