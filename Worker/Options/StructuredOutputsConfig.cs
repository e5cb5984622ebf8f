using System.Text.Json;

namespace Worker.Options;

/// <summary>
/// --structured-outputs-config, as vLLM takes it (its StructuredOutputsConfig): {"disable_any_whitespace": true} makes
/// every JSON constraint compact (no whitespace between tokens), which small models finish far sooner; a request's own
/// structured_outputs.disable_any_whitespace asks for the same. "backend" may only be "auto": this server compiles
/// grammars itself (vLLM's xgrammar and guidance are Python).
/// </summary>
public sealed record StructuredOutputsConfig(bool DisableAnyWhitespace)
{
    public static readonly StructuredOutputsConfig Default = new(DisableAnyWhitespace: false);

    private static readonly HashSet<string> Keys = ["disable_any_whitespace", "backend"];

    public static StructuredOutputsConfig Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return Default;
        }
        var root = JsonSetting.ParseObject(json, Invalid);
        foreach (var property in root.EnumerateObject())
        {
            if (!Keys.Contains(property.Name))
            {
                throw Invalid($"\"{property.Name}\" is not supported (supported: {string.Join(", ", Keys)})");
            }
        }
        if (root.TryGetProperty("backend", out var backend) && backend.GetString() != "auto")
        {
            throw Invalid($"\"backend\" must be \"auto\": this server has its own grammar compiler; got {backend}");
        }
        return root.TryGetProperty("disable_any_whitespace", out var disable)
            ? disable.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? new StructuredOutputsConfig(disable.GetBoolean())
                : throw Invalid("\"disable_any_whitespace\" must be true or false")
            : Default;
    }

    private static InvalidOperationException Invalid(string why) => new($"--structured-outputs-config is invalid: {why}.");
}
