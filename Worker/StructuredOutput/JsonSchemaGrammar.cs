using System.Text.Encodings.Web;
using System.Text.Json;
using static Worker.StructuredOutput.GrammarNode;

namespace Worker.StructuredOutput;

/// <summary>
/// Compiles a JSON Schema into the grammar of the JSON texts that validate against it. Properties come in the schema's
/// order, optional ones may be left out; as xgrammar's strict mode (vLLM's default backend), an object without
/// additionalProperties takes no others. Every keyword that would constrain output and is not supported is refused,
/// named, rather than ignored.
/// </summary>
internal sealed class JsonSchemaGrammar
{
    /// <summary>Keywords that describe and never constrain.</summary>
    private static readonly HashSet<string> Annotations =
        ["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"];

    private static readonly HashSet<string> Supported =
    [
        "type", "enum", "const", "anyOf", "allOf", "$ref",
        "properties", "required", "additionalProperties",
        "items", "minItems", "maxItems", "uniqueItems",
        "minLength", "maxLength", "pattern", "format",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    ];

    /// <summary>The formats compiled as patterns (RFC 3339 dates and times, RFC 4122 UUIDs); any other is refused.</summary>
    private static readonly Dictionary<string, string> Formats = new()
    {
        ["date"] = Date,
        ["time"] = Time,
        ["date-time"] = Date + "T" + Time,
        ["uuid"] = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    };

    private const string Date = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
    private const string Time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";

    private static readonly JsonSerializerOptions LiteralJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonElement _root;
    private readonly bool _anyWhitespace;
    private readonly GrammarNode _ws;
    private readonly Dictionary<string, RuleNode> _rules = [];
    private int _depth;

    /// <summary>
    /// Schemas nested inside one another while compiling, through $ref as well; deeper is refused: the compiler recurses
    /// per schema, and a request must not exhaust its thread's stack.
    /// </summary>
    public const int MaxNesting = 128;

    private JsonSchemaGrammar(JsonElement root, bool anyWhitespace)
    {
        _root = root;
        _anyWhitespace = anyWhitespace;
        _ws = JsonGrammar.Whitespace(anyWhitespace);
    }

    /// <param name="anyWhitespace">Whitespace between tokens (vLLM's default), or none (its disable_any_whitespace).</param>
    /// <exception cref="UnsupportedSchemaException">The schema uses a keyword or form this compiler does not support.</exception>
    public static GrammarNode Compile(JsonElement schema, bool anyWhitespace) => new JsonSchemaGrammar(schema, anyWhitespace).Reference("#");

    private GrammarNode Value(JsonElement schema)
    {
        if (++_depth > MaxNesting)
        {
            throw new UnsupportedSchemaException("schema", $"Schemas nest deeper than {MaxNesting}, references included.");
        }
        try
        {
            return Schema(schema);
        }
        finally
        {
            _depth--;
        }
    }

    private GrammarNode Schema(JsonElement schema)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return JsonGrammar.AnyValue(_anyWhitespace);
        }
        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new UnsupportedSchemaException("schema", schema.ValueKind == JsonValueKind.False
                ? "The schema 'false' allows no value."
                : $"A schema must be an object or a boolean, not {schema.ValueKind}.", invalid: true);
        }
        var constraints = new List<string>();
        foreach (var keyword in schema.EnumerateObject())
        {
            if (Annotations.Contains(keyword.Name))
            {
                continue;
            }
            if (!Supported.Contains(keyword.Name))
            {
                throw new UnsupportedSchemaException(keyword.Name, $"The JSON Schema keyword '{keyword.Name}' is not supported.");
            }
            constraints.Add(keyword.Name);
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            Alone("$ref", constraints);
            return Reference(reference.GetString() ?? throw new UnsupportedSchemaException("$ref", "'$ref' must be a string.", invalid: true));
        }
        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            Alone("anyOf", constraints);
            return Choice(Schemas("anyOf", anyOf).Select(Value).ToArray());
        }
        if (schema.TryGetProperty("allOf", out var allOf))
        {
            Alone("allOf", constraints);
            var all = Schemas("allOf", allOf);
            return all.Count == 1 ? Value(all[0]) : throw new UnsupportedSchemaException("allOf", "'allOf' with more than one schema is not supported.");
        }
        if (schema.TryGetProperty("const", out var constant))
        {
            return Literal(JsonSerializer.Serialize(constant, LiteralJson));
        }
        if (schema.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
            {
                throw new UnsupportedSchemaException("enum", "'enum' must be a non-empty array.", invalid: true);
            }
            return Choice(values.EnumerateArray().Select(v => Literal(JsonSerializer.Serialize(v, LiteralJson))).ToArray());
        }
        return Choice(TypesOf(schema).Select(type => Typed(type, schema)).ToArray());
    }

    private static void Alone(string keyword, List<string> constraints)
    {
        if (constraints.FirstOrDefault(c => c != keyword) is { } other)
        {
            throw new UnsupportedSchemaException(keyword, $"'{keyword}' beside other constraints ('{other}') is not supported; move them into its schemas.");
        }
    }

    private static List<JsonElement> Schemas(string keyword, JsonElement list) =>
        list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0
            ? list.EnumerateArray().ToList()
            : throw new UnsupportedSchemaException(keyword, $"'{keyword}' must be a non-empty array of schemas.", invalid: true);

    private static IEnumerable<string> TypesOf(JsonElement schema)
    {
        if (schema.TryGetProperty("type", out var type))
        {
            return type.ValueKind switch
            {
                JsonValueKind.String => [type.GetString()!],
                JsonValueKind.Array when type.GetArrayLength() > 0 => type.EnumerateArray().Select(t => t.GetString() ?? "").ToArray(),
                _ => throw new UnsupportedSchemaException("type", "'type' must be a type name or a non-empty array of them.", invalid: true),
            };
        }
        // No type: what its keywords describe, or any value.
        if (Has(schema, "properties", "required", "additionalProperties"))
        {
            return ["object"];
        }
        if (Has(schema, "items", "minItems", "maxItems"))
        {
            return ["array"];
        }
        if (Has(schema, "minLength", "maxLength", "pattern", "format"))
        {
            return ["string"];
        }
        return Has(schema, "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") ? ["number"] : ["any"];
    }

    private static bool Has(JsonElement schema, params string[] keywords) => keywords.Any(k => schema.TryGetProperty(k, out _));

    private GrammarNode Typed(string type, JsonElement schema) => type switch
    {
        "object" => Object(schema),
        "array" => Array(schema),
        "string" => String(schema),
        "integer" => Integer(schema),
        "number" => Number(schema),
        "boolean" => JsonGrammar.Boolean,
        "null" => JsonGrammar.Null,
        "any" => JsonGrammar.AnyValue(_anyWhitespace),
        _ => throw new UnsupportedSchemaException("type", $"Unknown type '{type}'.", invalid: true),
    };

    private GrammarNode Object(JsonElement schema)
    {
        var properties = schema.TryGetProperty("properties", out var declared) && declared.ValueKind == JsonValueKind.Object
            ? declared.EnumerateObject().Select(p => (p.Name, Schema: p.Value)).ToList()
            : [];
        var required = schema.TryGetProperty("required", out var names) && names.ValueKind == JsonValueKind.Array
            ? names.EnumerateArray().Select(n => n.GetString() ?? "").ToHashSet()
            : [];
        foreach (var name in required.Where(n => properties.All(p => p.Name != n)).ToArray())
        {
            properties.Add((name, default)); // required without a schema: any value
        }

        var additional = schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind != JsonValueKind.False ? extra : (JsonElement?)null;
        if (additional is { } map)
        {
            if (properties.Count > 0)
            {
                throw new UnsupportedSchemaException("additionalProperties", "'additionalProperties' other than false beside 'properties' is not supported.");
            }
            var member = Sequence(JsonGrammar.String(), _ws, Literal(":"), _ws, Value(map));
            return JsonGrammar.Delimited("{", member, "}", _anyWhitespace);
        }

        // Members(i, after): properties i.. in order, each optional one may be skipped; "after" says a comma comes first.
        var memo = new Dictionary<(int, bool), GrammarNode>();
        var values = properties.Select(p => p.Schema.ValueKind == JsonValueKind.Undefined ? JsonGrammar.AnyValue(_anyWhitespace) : Value(p.Schema)).ToArray();
        GrammarNode Members(int i, bool after)
        {
            if (i == properties.Count)
            {
                return Empty;
            }
            if (memo.TryGetValue((i, after), out var known))
            {
                return known;
            }
            var member = Sequence(
                after ? Sequence(_ws, Literal(","), _ws) : Empty,
                Literal(JsonSerializer.Serialize(properties[i].Name, LiteralJson)),
                _ws, Literal(":"), _ws, values[i],
                Members(i + 1, true));
            return memo[(i, after)] = required.Contains(properties[i].Name) ? member : Choice(member, Members(i + 1, after));
        }
        return Sequence(Literal("{"), _ws, Members(0, false), _ws, Literal("}"));
    }

    private GrammarNode Array(JsonElement schema)
    {
        if (schema.TryGetProperty("uniqueItems", out var unique) && unique.ValueKind == JsonValueKind.True)
        {
            throw new UnsupportedSchemaException("uniqueItems", "'uniqueItems: true' is not supported.");
        }
        var item = schema.TryGetProperty("items", out var items) ? Value(items) : JsonGrammar.AnyValue(_anyWhitespace);
        var min = Count(schema, "minItems") ?? 0;
        var max = Count(schema, "maxItems") ?? RepeatNode.Unbounded;
        if (max != RepeatNode.Unbounded && max < min)
        {
            throw new UnsupportedSchemaException("maxItems", $"'maxItems' ({max}) is below 'minItems' ({min}): no array validates.", invalid: true);
        }
        return JsonGrammar.Delimited("[", item, "]", _anyWhitespace, min, max);
    }

    private static GrammarNode String(JsonElement schema)
    {
        var min = Count(schema, "minLength");
        var max = Count(schema, "maxLength");
        if (max < min)
        {
            throw new UnsupportedSchemaException("maxLength", $"'maxLength' ({max}) is below 'minLength' ({min}): no string validates.", invalid: true);
        }
        string? pattern = null;
        if (schema.TryGetProperty("format", out var format))
        {
            pattern = Formats.GetValueOrDefault(format.GetString() ?? "")
                ?? throw new UnsupportedSchemaException("format", $"The string format '{format.GetString()}' is not supported (supported: {string.Join(", ", Formats.Keys)}).");
        }
        if (schema.TryGetProperty("pattern", out var regex))
        {
            if (pattern is not null)
            {
                throw new UnsupportedSchemaException("pattern", "'pattern' beside 'format' is not supported.");
            }
            pattern = regex.GetString() ?? throw new UnsupportedSchemaException("pattern", "'pattern' must be a string.");
        }
        if (pattern is null)
        {
            return JsonGrammar.String(min ?? 0, max ?? RepeatNode.Unbounded);
        }
        if (min is not null || max is not null)
        {
            throw new UnsupportedSchemaException(min is not null ? "minLength" : "maxLength", "String length bounds beside 'pattern' or 'format' are not supported; put the bounds in the pattern.");
        }
        return Sequence(Literal("\""), RegexGrammar.Compile(pattern, inJsonString: true), Literal("\""));
    }

    private static GrammarNode Integer(JsonElement schema)
    {
        var (min, minExclusive, max, maxExclusive) = Bounds(schema);
        long? low = min is { } lo ? (long)Math.Clamp(minExclusive ? Math.Floor(lo) + 1 : Math.Ceiling(lo), long.MinValue / 2, long.MaxValue / 2) : null;
        long? high = max is { } hi ? (long)Math.Clamp(maxExclusive ? Math.Ceiling(hi) - 1 : Math.Floor(hi), long.MinValue / 2, long.MaxValue / 2) : null;
        if (low > high)
        {
            throw new UnsupportedSchemaException("minimum", $"No integer lies between the bounds ({min} and {max}).", invalid: true);
        }
        return low is null && high is null ? JsonGrammar.Integer : NumberRanges.Integers(low, high);
    }

    private static GrammarNode Number(JsonElement schema)
    {
        var (min, minExclusive, max, maxExclusive) = Bounds(schema);
        if (min is null && max is null)
        {
            return JsonGrammar.Number;
        }
        if (min > max || (min == max && (minExclusive || maxExclusive)))
        {
            throw new UnsupportedSchemaException("minimum", $"No number lies between the bounds ({min} and {max}).", invalid: true);
        }
        return NumberRanges.Decimals(min, minExclusive, max, maxExclusive);
    }

    private static (double? Min, bool MinExclusive, double? Max, bool MaxExclusive) Bounds(JsonElement schema)
    {
        var min = Bound(schema, "minimum");
        var max = Bound(schema, "maximum");
        var exclusiveMin = Bound(schema, "exclusiveMinimum");
        var exclusiveMax = Bound(schema, "exclusiveMaximum");
        // The tighter of an inclusive and an exclusive bound on each side.
        var (low, lowExclusive) = exclusiveMin is { } em && (min is null || em >= min) ? (em, true) : (min, false);
        var (high, highExclusive) = exclusiveMax is { } eM && (max is null || eM <= max) ? (eM, true) : (max, false);
        return (low, lowExclusive, high, highExclusive);
    }

    private static double? Bound(JsonElement schema, string keyword) =>
        !schema.TryGetProperty(keyword, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && double.IsFinite(value.GetDouble()) ? value.GetDouble()
        : throw new UnsupportedSchemaException(keyword, $"'{keyword}' must be a number (draft-4 boolean forms are not supported).", invalid: true);

    private static int? Count(JsonElement schema, string keyword) =>
        !schema.TryGetProperty(keyword, out var value) ? null
        : value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var count) && count >= 0 ? count
        : throw new UnsupportedSchemaException(keyword, $"'{keyword}' must be a non-negative integer.", invalid: true);

    /// <summary>A rule per JSON pointer, created before its body so that a schema may refer to itself.</summary>
    private RuleNode Reference(string pointer)
    {
        if (_rules.TryGetValue(pointer, out var rule))
        {
            return rule;
        }
        if (!pointer.StartsWith('#'))
        {
            throw new UnsupportedSchemaException("$ref", $"Only references inside the schema ('#/...') are supported, not '{pointer}'.");
        }
        var target = _root;
        foreach (var segment in pointer[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = Uri.UnescapeDataString(segment).Replace("~1", "/").Replace("~0", "~");
            if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(name, out target))
            {
                throw new UnsupportedSchemaException("$ref", $"The reference '{pointer}' does not resolve inside the schema.", invalid: true);
            }
        }
        rule = _rules[pointer] = new RuleNode(pointer);
        if (_depth >= MaxNesting)
        {
            throw new UnsupportedSchemaException("$ref", $"Schemas nest deeper than {MaxNesting}, references included.");
        }
        rule.Body = Value(target);
        return rule;
    }
}
