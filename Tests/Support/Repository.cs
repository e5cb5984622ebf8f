namespace Tests.Support;

public static class Repository
{
    /// <summary>The folder holding Aspire.sln, found above the test binaries.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Aspire.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("The repository root (Aspire.sln) was not found above the test binaries.");
    }
}
