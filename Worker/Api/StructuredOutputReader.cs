using System.Text.Json;
using Worker.StructuredOutput;

namespace Worker.Api;

/// <summary>
/// Reads what a request constrains its output to: OpenAI's response_format (json_object, json_schema), vLLM's
/// structured_outputs object (json, regex, choice, json_object), and vLLM's older guided_json, guided_regex and
/// guided_choice fields. One constraint per request; structured_outputs.disable_any_whitespace asks for compact JSON.
/// What this server cannot do (grammar, structural_tag, a custom whitespace pattern) is refused by name.
/// </summary>
internal static class StructuredOutputReader
{
    public static StructuredOutputRequest? Read(JsonFields fields)
    {
        var found = new List<StructuredOutputRequest>();
        var anyWhitespace = true;
        if (fields.Object("response_format") is { } format && ResponseFormat(format) is { } fromFormat)
        {
            found.Add(fromFormat);
        }
        if (fields.Object("structured_outputs") is { } structured)
        {
            foreach (var unsupported in new[] { "grammar", "structural_tag", "whitespace_pattern" })
            {
                Refuse(structured, unsupported);
            }
            found.AddRange(Kinds(structured, "json", "regex", "choice", "json_object"));
            anyWhitespace = !(structured.Bool("disable_any_whitespace") ?? false);
        }
        Refuse(fields, "guided_grammar");
        Refuse(fields, "guided_whitespace_pattern");
        found.AddRange(Kinds(fields, "guided_json", "guided_regex", "guided_choice", null));
        return found.Count switch
        {
            0 => null,
            1 => found[0] with { AnyWhitespace = anyWhitespace },
            _ => throw ApiException.BadRequest(
                $"Only one kind of structured output may be asked for; this request has {string.Join(", ", found.Select(f => $"'{f.Parameter}'"))}.",
                found[1].Parameter),
        };
    }

    private static StructuredOutputRequest? ResponseFormat(JsonFields format)
    {
        var type = format.String("type") ?? throw ApiException.BadRequest("'response_format.type' is a required property.", "response_format.type");
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return new StructuredOutputRequest(StructuredOutputType.JsonObject, "", "response_format");
            case "json_schema":
                var jsonSchema = format.Object("json_schema")
                    ?? throw ApiException.BadRequest("'response_format.json_schema' is required when type is 'json_schema'.", "response_format.json_schema");
                var schema = jsonSchema.Get("schema")
                    ?? throw ApiException.BadRequest("'response_format.json_schema.schema' is a required property.", "response_format.json_schema.schema");
                return Json(schema, "response_format.json_schema.schema");
            default:
                throw ApiException.BadRequest($"'response_format.type' must be one of text, json_object, json_schema; got '{type}'.", "response_format.type");
        }
    }

    /// <summary>The constraint fields of one object (structured_outputs' keys, or the guided_* fields), each read if present.</summary>
    private static IEnumerable<StructuredOutputRequest> Kinds(JsonFields fields, string json, string regex, string choice, string? jsonObject)
    {
        if (fields.Get(json) is { } schema)
        {
            yield return Json(schema.ValueKind == JsonValueKind.String ? ParseSchema(JsonFields.Text(schema, fields.Param(json)), fields.Param(json)) : schema, fields.Param(json));
        }
        if (fields.String(regex) is { } pattern)
        {
            yield return new StructuredOutputRequest(StructuredOutputType.Regex, pattern, fields.Param(regex));
        }
        if (fields.Get(choice) is { } choices)
        {
            var param = fields.Param(choice);
            if (choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0
                || choices.EnumerateArray().Any(c => c.ValueKind != JsonValueKind.String || JsonFields.Text(c, param).Length == 0))
            {
                throw ApiException.BadRequest($"'{param}' must be a non-empty list of non-empty strings.", param);
            }
            yield return new StructuredOutputRequest(StructuredOutputType.Choice, JsonSerializer.Serialize(choices.EnumerateArray().Select(c => c.GetString())), param);
        }
        if (jsonObject is not null && fields.Bool(jsonObject) is true)
        {
            yield return new StructuredOutputRequest(StructuredOutputType.JsonObject, "", fields.Param(jsonObject));
        }
    }

    private static StructuredOutputRequest Json(JsonElement schema, string param)
    {
        if (schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
        {
            throw ApiException.BadRequest($"'{param}' must be a JSON Schema (an object).", param);
        }
        RequireText(schema, param);
        return new StructuredOutputRequest(StructuredOutputType.Json, schema.GetRawText(), param);
    }

    /// <summary>Every name and string in the schema is valid Unicode text (a 400 naming the field otherwise, never an exception in the compiler).</summary>
    private static void RequireText(JsonElement value, string param)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                JsonFields.Text(value, param);
                break;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    RequireText(item, param);
                }
                break;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    JsonFields.Name(property, param);
                    RequireText(property.Value, param);
                }
                break;
        }
    }

    private static JsonElement ParseSchema(string text, string param)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"'{param}' is not valid JSON: {e.Message}", param);
        }
    }

    private static void Refuse(JsonFields fields, string name)
    {
        if (fields.Get(name) is not null)
        {
            throw ApiException.BadRequest($"'{fields.Param(name)}' is not supported by this server (supported: JSON Schema, json_object, regex, choice).", fields.Param(name));
        }
    }
}
