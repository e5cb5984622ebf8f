using System.Collections.Concurrent;
using ModelBuilder;

namespace Tests.Support;

/// <summary>The tiny model, built once per test run into a temporary folder that every test shares.</summary>
public static class TinyModel
{
    public static string Directory => TestModels.Built(ModelSize.Tiny);

    /// <summary>The draft the builder writes beside it, for speculative decoding.</summary>
    public static string DraftDirectory => Path.Combine(Directory, ModelFolderBuilder.DraftFolderName);
}

/// <summary>The small (~25M parameter, ~100 MB) model, built once per test run, for tests where memory must show.</summary>
public static class SmallModel
{
    public static string Directory => TestModels.Built(ModelSize.Small);
}

internal static class TestModels
{
    private static readonly ConcurrentDictionary<ModelSize, Lazy<string>> Folders = new();

    public static string Built(ModelSize size) => Folders.GetOrAdd(size, _ => new Lazy<string>(() =>
    {
        var directory = TestFolders.New(size.Name);
        ModelFolderBuilder.Build(size, directory);
        return directory;
    })).Value;
}
