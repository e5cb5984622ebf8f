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

/// <summary>The tiny model built LoRA-ready, with adapters alpha, beta and gamma in lora/NAME, once per test run.</summary>
public static class TinyLoraModel
{
    public static readonly string[] Adapters = ["alpha", "beta", "gamma"];

    public static string Directory => TestModels.Built(ModelSize.Tiny, Adapters);

    public static string Adapter(string name) => Path.Combine(Directory, ModelFolderBuilder.LoraFolderName, name);

    /// <summary>--lora-modules for the named adapters.</summary>
    public static (string Key, string Value)[] Modules(params string[] names) =>
        names.Select((name, i) => ($"Worker:LoraModules:{i}", $"{name}={Adapter(name)}")).ToArray();
}

/// <summary>The small (~25M parameter, ~100 MB) model, built once per test run, for tests where memory must show.</summary>
public static class SmallModel
{
    public static string Directory => TestModels.Built(ModelSize.Small);
}

internal static class TestModels
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Folders = new();

    public static string Built(ModelSize size, params string[] loraAdapters) => Folders.GetOrAdd($"{size.Name}|{string.Join(',', loraAdapters)}", _ => new Lazy<string>(() =>
    {
        var directory = TestFolders.New(loraAdapters.Length == 0 ? size.Name : $"{size.Name}-lora");
        ModelFolderBuilder.Build(size, directory, loraAdapters);
        return directory;
    })).Value;
}
