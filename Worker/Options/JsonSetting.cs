using System.Text.Json;

namespace Worker.Options;

/// <summary>A setting given as a JSON object on the command line, as vLLM's --speculative-config and --kv-transfer-config are.</summary>
internal static class JsonSetting
{
    /// <summary>The object the JSON holds; <paramref name="invalid"/> makes the error for what it says is wrong.</summary>
    public static JsonElement ParseObject(string json, Func<string, Exception> invalid)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            throw invalid($"it is not valid JSON ({e.Message})");
        }
        return root.ValueKind == JsonValueKind.Object ? root : throw invalid("it must be a JSON object");
    }
}
