using System.Security.Cryptography;
using System.Text;

namespace ModelBuilder;

/// <summary>
/// The model a worker serves when no --model is given: the tiny model, built once into the cache folder.
/// The folder name carries a fingerprint of the builder's inputs, so a changed builder never serves a stale model.
/// With LoRA, a LoRA-ready build with its adapters <see cref="LoraAdapters"/> in <c>lora/NAME</c>.
/// </summary>
public static class DefaultModel
{
    public const string ServedName = "vellum-tiny";

    /// <summary>The adapters the LoRA-ready embedded model comes with.</summary>
    public static readonly string[] LoraAdapters = ["alpha", "beta"];

    /// <summary>Bump when the builder's code changes what it writes.</summary>
    private const int BuilderRevision = 3;

    public static string EnsureBuilt(string cacheDirectory, bool withLora = false)
    {
        var adapters = withLora ? LoraAdapters : [];
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{BuilderRevision}|{ModelSize.Tiny}|{ModelFolderBuilder.MergeCount}|{TokenizerFiles.ChatTemplate}|{Corpus.Text}|{string.Join(',', adapters)}")))[..12];
        var directory = Path.Combine(cacheDirectory, "models", withLora ? $"tiny-lora-{fingerprint}" : $"tiny-{fingerprint}");
        if (Directory.Exists(directory))
        {
            return directory;
        }

        // Several workers may start together: each builds aside and the first rename wins.
        Directory.CreateDirectory(Path.GetDirectoryName(directory)!);
        var staging = $"{directory}.staging-{Environment.ProcessId}-{Guid.NewGuid():N}";
        ModelFolderBuilder.Build(ModelSize.Tiny, staging, adapters);
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
