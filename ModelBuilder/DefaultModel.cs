using System.Security.Cryptography;
using System.Text;

namespace ModelBuilder;

/// <summary>
/// The model a worker serves when no --model is given: the tiny model, built once into the cache folder.
/// The folder name carries a fingerprint of the builder's inputs, so a changed builder never serves a stale model.
/// </summary>
public static class DefaultModel
{
    public const string ServedName = "vellum-tiny";

    /// <summary>Bump when the builder's code changes what it writes.</summary>
    private const int BuilderRevision = 2;

    public static string EnsureBuilt(string cacheDirectory)
    {
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{BuilderRevision}|{ModelSize.Tiny}|{ModelFolderBuilder.MergeCount}|{TokenizerFiles.ChatTemplate}|{Corpus.Text}")))[..12];
        var directory = Path.Combine(cacheDirectory, "models", $"tiny-{fingerprint}");
        if (Directory.Exists(directory))
        {
            return directory;
        }

        // Several workers may start together: each builds aside and the first rename wins.
        Directory.CreateDirectory(Path.GetDirectoryName(directory)!);
        var staging = $"{directory}.staging-{Environment.ProcessId}-{Guid.NewGuid():N}";
        ModelFolderBuilder.Build(ModelSize.Tiny, staging);
        try
        {
            Directory.Move(staging, directory);
        }
        catch (IOException) when (Directory.Exists(directory))
        {
            Directory.Delete(staging, recursive: true);
        }
        return directory;
    }

    public static string DefaultCacheDirectory()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "vellum");
    }
}
