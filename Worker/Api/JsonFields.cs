using System.Text.Json;

namespace Worker.Api;

/// <summary>
/// Reads typed fields from a JSON request body and refuses wrong types and out-of-range values with a
/// 400 that names the field (with <paramref name="path"/>, the object's place in the body: "messages[0].role").
/// A field that is absent or null reads as "not given".
/// </summary>
internal sealed class JsonFields(JsonElement root, string? path = null)
{
    /// <summary>
    /// The body as a JSON object. A body with another declared media type gets 415; one that Kestrel refuses while
    /// it is read (too large, a broken chunked encoding) gets Kestrel's status; anything not a JSON object gets 400.
    /// </summary>
    public static async Task<JsonFields> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentType is { Length: > 0 } contentType && !IsJson(contentType))
        {
            throw new ApiException(415, $"The request body must be JSON (Content-Type: application/json); got '{contentType}'.", code: "unsupported_media_type");
        }
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, BodyOptions, cancellationToken);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e)
        {
            throw new ApiException(e.StatusCode, $"The request body could not be read: {e.Message}");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        return new JsonFields(document.RootElement);
    }

    /// <summary>A key given twice is refused: which of the two counts would depend on the parser, and a proxy may read the other.</summary>
    private static readonly JsonDocumentOptions BodyOptions = new() { AllowDuplicateProperties = false };

    private static bool IsJson(string contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    public JsonElement? Get(string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public JsonElement Require(string name) =>
        Get(name) ?? throw ApiException.BadRequest($"'{Param(name)}' is a required property.", Param(name));

    /// <summary>How errors name a field of this object.</summary>
    public string Param(string name) => path is null ? name : $"{path}.{name}";

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } value => Text(value, Param(name)),
        _ => throw WrongType(name, "a string"),
    };

    /// <summary>
    /// A JSON string as .NET text. JSON may spell a lone UTF-16 surrogate ("\ud800") or carry bytes that are not
    /// UTF-8, and no string can hold either:
    /// the client gets a 400 naming <paramref name="param"/> rather than an exception from deep in a handler.
    /// </summary>
    public static string Text(JsonElement value, string param)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw InvalidText(param);
        }
    }

    /// <summary>A property's name as .NET text, refused alike (400 naming <paramref name="param"/>) when no string can hold it.</summary>
    public static string Name(JsonProperty property, string param)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            throw InvalidText(param);
        }
    }

    private static ApiException InvalidText(string param) =>
        ApiException.BadRequest($"'{param}' is not valid Unicode text (invalid UTF-8, or an unpaired UTF-16 surrogate).", param);

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
            : throw ApiException.BadRequest($"'{Param(name)}' must be between {min} and {max}; got {number}.", Param(name));
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
            : throw ApiException.BadRequest($"'{Param(name)}' must be {(minExclusive ? "greater than" : "at least")} {min} and at most {max}; got {number}.", Param(name));
    }

    /// <summary>A string or an array of strings, as "stop" takes.</summary>
    public IReadOnlyList<string> StringOrStrings(string name)
    {
        switch (Get(name))
        {
            case null:
                return [];
            case { ValueKind: JsonValueKind.String } single:
                return [Text(single, Param(name))];
            case { ValueKind: JsonValueKind.Array } array when array.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                return array.EnumerateArray().Select(e => Text(e, Param(name))).ToArray();
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
        { ValueKind: JsonValueKind.Object } value => new JsonFields(value, Param(name)),
        _ => throw WrongType(name, "an object"),
    };

    private ApiException WrongType(string name, string expected) =>
        ApiException.BadRequest($"'{Param(name)}' must be {expected}.", Param(name));
}
