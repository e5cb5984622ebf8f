using System.Text.Json;

namespace Worker.Api;

/// <summary>
/// Reads typed fields from a JSON request body and refuses wrong types and out-of-range values with a
/// 400 that names the field. A field that is absent or null reads as "not given".
/// </summary>
internal sealed class JsonFields(JsonElement root)
{
    public static async Task<JsonFields> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        return new JsonFields(document.RootElement);
    }

    public JsonElement? Get(string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public JsonElement Require(string name) =>
        Get(name) ?? throw ApiException.BadRequest($"'{name}' is a required property.", name);

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => value.GetString(),
        _ => throw WrongType(name, "a string"),
    };

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw WrongType(name, "a boolean"),
    };

    public long? Integer(string name, long min, long max)
    {
        if (Get(name) is not { } value)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
        {
            throw WrongType(name, "an integer");
        }
        return number >= min && number <= max
            ? number
            : throw ApiException.BadRequest($"'{name}' must be between {min} and {max}; got {number}.", name);
    }

    public double? Number(string name, double min, double max, bool minExclusive = false)
    {
        if (Get(name) is not { } value)
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number)
        {
            throw WrongType(name, "a number");
        }
        var number = value.GetDouble();
        var aboveMin = minExclusive ? number > min : number >= min;
        return aboveMin && number <= max
            ? number
            : throw ApiException.BadRequest($"'{name}' must be {(minExclusive ? "greater than" : "at least")} {min} and at most {max}; got {number}.", name);
    }

    /// <summary>A string or an array of strings, as "stop" takes.</summary>
    public IReadOnlyList<string> StringOrStrings(string name)
    {
        switch (Get(name))
        {
            case null:
                return [];
            case { ValueKind: JsonValueKind.String } single:
                return [single.GetString()!];
            case { ValueKind: JsonValueKind.Array } array when array.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                return array.EnumerateArray().Select(e => e.GetString()!).ToArray();
            default:
                throw WrongType(name, "a string or an array of strings");
        }
    }

    public IReadOnlyList<int> Integers(string name)
    {
        switch (Get(name))
        {
            case null:
                return [];
            case { ValueKind: JsonValueKind.Array } array when array.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)):
                return array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
            default:
                throw WrongType(name, "an array of integers");
        }
    }

    public JsonFields? Object(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } value => new JsonFields(value),
        _ => throw WrongType(name, "an object"),
    };

    private static ApiException WrongType(string name, string expected) =>
        ApiException.BadRequest($"'{name}' must be {expected}.", name);
}
