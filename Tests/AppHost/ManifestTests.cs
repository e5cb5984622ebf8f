using System.Text.Json.Nodes;
using Tests.Support;

namespace Tests.AppHost;

/// <summary>
/// The committed deployment is what the AppHost publishes: aspire-manifest.json, the Prometheus configuration it
/// writes from the services it declares, and the rules and alerts beside it (README, "Deployment", has the command that regenerates them).
/// </summary>
public class ManifestTests
{
    [Fact]
    public async Task TheCommittedManifestAndPrometheusConfig_AreWhatTheAppHostPublishes()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var prometheusConfig = Path.Combine(Repository.Root, "AppHost", "prometheus", "prometheus.yml");
        var committedConfig = await File.ReadAllTextAsync(prometheusConfig, TestContext.Current.CancellationToken);
        var committedRules = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "AppHost", "prometheus", "rules.yml"), TestContext.Current.CancellationToken);
        var folder = TestFolders.New("manifest");
        var fresh = Path.Combine(folder, "aspire-manifest.json");
        var freshConfig = Path.Combine(folder, "prometheus.yml");

        // Published into a scratch folder: the tracked files are only read.
        var (exitCode, output) = await Processes.RunAsync("dotnet",
            $"run --project \"{Path.Combine(Repository.Root, "AppHost")}\" --no-build -c {configuration} -- --publisher manifest --output-path \"{fresh}\" --PrometheusConfigOutput \"{freshConfig}\"");

        Assert.True(exitCode == 0, output);
        var publishedConfig = await File.ReadAllTextAsync(freshConfig, TestContext.Current.CancellationToken);
        Assert.Equal(committedConfig, await File.ReadAllTextAsync(prometheusConfig, TestContext.Current.CancellationToken));
        Assert.Equal(Resolved(Path.Combine(Repository.Root, "aspire-manifest.json")), Resolved(fresh));
        Assert.Equal(committedConfig, publishedConfig);
        Assert.Equal(committedRules, await File.ReadAllTextAsync(Path.Combine(folder, "rules.yml"), TestContext.Current.CancellationToken));
    }

    /// <summary>The manifest with its relative paths (projects, bind mounts) made absolute: where it was written does not matter.</summary>
    private static string Resolved(string manifest)
    {
        var directory = Path.GetDirectoryName(manifest)!;
        var json = JsonNode.Parse(File.ReadAllText(manifest))!;
        void Resolve(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (key, value) in obj.ToArray())
                    {
                        if (key is "path" or "source" && value is JsonValue text && text.TryGetValue<string>(out var relative))
                        {
                            obj[key] = Path.GetFullPath(Path.Combine(directory, relative));
                        }
                        else
                        {
                            Resolve(value);
                        }
                    }
                    break;
                case JsonArray array:
                    foreach (var item in array)
                    {
                        Resolve(item);
                    }
                    break;
            }
        }
        Resolve(json);
        return json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }
}
