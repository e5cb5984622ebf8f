using System.Text.Json;

namespace Worker.Options;

/// <summary>
/// One --lora-modules entry, as vLLM takes it: <c>name=path</c>, or JSON <c>{"name":…,"path":…,"base_model_name":…}</c>
/// (vLLM's LoRAModulePath). The base model name is what /v1/models gives as the adapter's parent.
/// </summary>
public sealed record LoraModulePath(string Name, string Path, string? BaseModelName = null)
{
    /// <exception cref="InvalidOperationException">The entry is malformed; the message names it.</exception>
    public static LoraModulePath Parse(string entry)
    {
        InvalidOperationException Invalid(string why) => new($"--lora-modules entry '{entry}' is invalid: {why}.");
        if (entry.TrimStart().StartsWith('{'))
        {
            var root = JsonSetting.ParseObject(entry, Invalid);
            string? Text(string field) => root.TryGetProperty(field, out var value)
                ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid($"\"{field}\" must be a string")
                : null;
            var unknown = root.EnumerateObject().Select(p => p.Name).FirstOrDefault(n => n is not ("name" or "path" or "base_model_name"));
            if (unknown is not null)
            {
                throw Invalid($"unknown field \"{unknown}\" (it takes name, path and base_model_name)");
            }
            return Checked(Text("name"), Text("path"), Text("base_model_name"), Invalid);
        }
        var equals = entry.IndexOf('=');
        return equals < 0 ? throw Invalid("write it as name=path or as JSON") : Checked(entry[..equals], entry[(equals + 1)..], null, Invalid);
    }

    private static LoraModulePath Checked(string? name, string? path, string? baseModelName, Func<string, InvalidOperationException> invalid) =>
        string.IsNullOrWhiteSpace(name) ? throw invalid("the adapter needs a name")
        : string.IsNullOrWhiteSpace(path) ? throw invalid("the adapter needs a path")
        : new LoraModulePath(name, path, baseModelName);
}
