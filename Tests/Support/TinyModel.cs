using Worker.Models;

namespace Tests.Support;

/// <summary>The tiny model, built once per test run into a temporary folder that every test shares.</summary>
public static class TinyModel
{
    private static readonly Lazy<string> Built = new(() =>
    {
        var directory = Path.Combine(Path.GetTempPath(), "vellum-tests", Guid.NewGuid().ToString("N"), "tiny");
        ModelFolderBuilder.Build(ModelSize.Tiny, directory);
        return directory;
    });

    public static string Directory => Built.Value;
}
