using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Worker.StructuredOutput;

namespace Tests.StructuredOutput;

/// <summary>
/// Property: for random schemas built from every supported keyword, every output a constrained sampler can end
/// (random tokens from each mask over the real vocabulary, until it picks end of sequence) parses and validates
/// against its schema in an independent validator. Longer runs: <c>VELLUM_FUZZ_CASES=5000 dotnet test --filter RandomSchemaFuzzTests</c>.
/// </summary>
public class RandomSchemaFuzzTests
{
    private const int DefaultCases = 150;
    private const int MaxTokens = 400;

    [Fact]
    public void EveryOutputTheMaskAllows_ValidatesAgainstItsSchema()
    {
        var cases = int.TryParse(Environment.GetEnvironmentVariable("VELLUM_FUZZ_CASES"), out var configured) ? configured : DefaultCases;
        var finished = 0;
        var walks = 0;
        Gen.Select(TopLevel, Gen.Bool, Gen.Int).Sample((schema, anyWhitespace, seed) =>
        {
            var text = schema.ToJsonString();
            var grammar = Grammars.Schema(text, anyWhitespace);
            var random = new Random(seed);
            for (var walk = 0; walk < 3; walk++)
            {
                Interlocked.Increment(ref walks);
                if (Walk(grammar, random) is not { } output)
                {
                    continue;
                }
                Interlocked.Increment(ref finished);
                Assert.True(Grammars.Validates(text, CountableLengths(output), out var why), $"schema {text}\noutput {output}\n{why}");
            }
        }, iter: cases, threads: 1);
        // Most walks end: the property is not met by walks that never finish.
        Assert.True(finished * 2 > walks, $"only {finished} of {walks} walks ended within {MaxTokens} tokens");
    }

    /// <summary>
    /// Samples tokens from each state's mask: end of sequence half the time it is allowed, a closing quote or bracket
    /// half the time one is, else any allowed token (multi-byte ones included). Null when it does not end in time.
    /// </summary>
    private static string? Walk(Grammar grammar, Random random)
    {
        var vocabulary = grammar.Vocabulary;
        var closers = new HashSet<string> { "\"", "]", "}", "\",", "\"}", "]}", "\"]" };
        var bytes = new List<byte>();
        var state = grammar.Start;
        for (var step = 0; step < MaxTokens; step++)
        {
            var allowed = Grammars.Allowed(grammar.MaskOf(state), vocabulary.Size).ToArray();
            Assert.NotEmpty(allowed);
            var ends = allowed.Where(vocabulary.EndOfSequence.Contains).ToArray();
            if (ends.Length > 0 && (random.Next(2) == 0 || ends.Length == allowed.Length))
            {
                Assert.True(state.IsComplete);
                return Encoding.UTF8.GetString(bytes.ToArray());
            }
            var text = allowed.Where(t => !vocabulary.EndOfSequence.Contains(t)).ToArray();
            var closing = text.Where(t => closers.Contains(Encoding.UTF8.GetString(vocabulary.BytesOf(t)))).ToArray();
            var token = closing.Length > 0 && random.Next(2) == 0 ? closing[random.Next(closing.Length)] : text[random.Next(text.Length)];
            bytes.AddRange(vocabulary.BytesOf(token).ToArray());
            state = grammar.Advance(state, token);
            Assert.False(state.IsDead);
        }
        return null;
    }

    /// <summary>
    /// The output with every character of a multi-character grapheme (a letter and its combining marks, CR LF, a prepended
    /// mark) written as "x": JsonSchema.Net measures minLength and maxLength in graphemes where JSON Schema counts
    /// characters, as the grammar does. Nothing else in these schemas tells the two apart (enums, consts, names and
    /// patterns hold no such graphemes; "." takes "x").
    /// </summary>
    private static string CountableLengths(string output)
    {
        // A map's keys may repeat (a grammar cannot rule that out; JSON parsers take the last): read as a document, which keeps them.
        using var document = System.Text.Json.JsonDocument.Parse(output);
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            Write(document.RootElement, writer);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());

        static void Write(System.Text.Json.JsonElement element, System.Text.Json.Utf8JsonWriter writer)
        {
            switch (element.ValueKind)
            {
                case System.Text.Json.JsonValueKind.Object:
                    writer.WriteStartObject();
                    foreach (var property in element.EnumerateObject())
                    {
                        writer.WritePropertyName(property.Name);
                        Write(property.Value, writer);
                    }
                    writer.WriteEndObject();
                    break;
                case System.Text.Json.JsonValueKind.Array:
                    writer.WriteStartArray();
                    foreach (var item in element.EnumerateArray())
                    {
                        Write(item, writer);
                    }
                    writer.WriteEndArray();
                    break;
                case System.Text.Json.JsonValueKind.String:
                    writer.WriteStringValue(Graphemes(element.GetString()!));
                    break;
                default:
                    element.WriteTo(writer);
                    break;
            }
        }

        static string Graphemes(string text)
        {
            var result = new StringBuilder();
            var elements = System.Globalization.StringInfo.GetTextElementEnumerator(text);
            while (elements.MoveNext())
            {
                var element = (string)elements.Current;
                var characters = element.EnumerateRunes().Count();
                result.Append(characters == 1 ? element : new string('x', characters));
            }
            return result.ToString();
        }
    }

    private static readonly string[] Names = ["id", "name", "tags", "x", "value", "é", "a b", "quote\"d"];
    private static readonly string[] Patterns = ["^[a-z]{1,4}$", "^\\d{3}-\\d{2}$", "^(cat|dog)s?$", "^[A-F0-9]+$", "^a\"b\\\\c$", "^.{0,3}$"];

    private static Gen<JsonNode> Schema(int depth)
    {
        var leaf = Gen.OneOf(
            Gen.Select(Gen.Int[0, 3], Gen.Int[0, 4], Gen.Bool).Select((min, extra, bounded) => Node(new JsonObject { ["type"] = "string", ["minLength"] = min }, bounded ? ("maxLength", min + extra) : null)),
            Gen.OneOf(Patterns.Select(Gen.Const).ToArray()).Select(p => (JsonNode)new JsonObject { ["type"] = "string", ["pattern"] = p }),
            Gen.OneOf(new[] { "date", "time", "date-time", "uuid" }.Select(Gen.Const).ToArray()).Select(f => (JsonNode)new JsonObject { ["type"] = "string", ["format"] = f }),
            Gen.Select(Gen.Int[-50, 50], Gen.Int[0, 200], Gen.Bool).Select((min, width, exclusive) => (JsonNode)new JsonObject
            {
                ["type"] = "integer", ["minimum"] = min, [exclusive ? "exclusiveMaximum" : "maximum"] = min + width + (exclusive ? 1 : 0),
            }),
            Gen.Select(Gen.Double[-100, 100], Gen.Double[0.5, 50]).Select((min, width) => (JsonNode)new JsonObject
            {
                ["type"] = "number", ["minimum"] = Math.Round(min, 2), ["maximum"] = Math.Round(min + width, 2),
            }),
            Fresh(() => new JsonObject { ["type"] = "number" }),
            Fresh(() => new JsonObject { ["type"] = "integer" }),
            Fresh(() => new JsonObject { ["type"] = "boolean" }),
            Fresh(() => new JsonObject { ["type"] = "null" }),
            Fresh(() => new JsonObject { ["type"] = new JsonArray("string", "null") }),
            Gen.OneOf(new[] { "red", "green", "blue\u00e9", "a\"q" }.Select(Gen.Const).ToArray()).Array[1, 3].Select(values => (JsonNode)new JsonObject { ["enum"] = new JsonArray(values.Distinct().Select(v => (JsonNode)v).ToArray()) }),
            Gen.Int[-5, 5].Select(v => (JsonNode)new JsonObject { ["const"] = new JsonObject { ["k"] = v } }));
        if (depth == 0)
        {
            return leaf;
        }
        var inner = Schema(depth - 1);
        var obj = Gen.Select(inner.Array[1, 4], Gen.Int[0, 15]).Select((values, requiredBits) =>
        {
            var properties = new JsonObject();
            var required = new JsonArray();
            for (var i = 0; i < values.Length; i++)
            {
                properties[Names[i * 2 % Names.Length + (i % 2)]] = values[i];
                if ((requiredBits >> i & 1) == 1)
                {
                    required.Add(Names[i * 2 % Names.Length + (i % 2)]);
                }
            }
            return (JsonNode)new JsonObject { ["type"] = "object", ["properties"] = properties, ["required"] = required, ["additionalProperties"] = false };
        });
        var map = inner.Select(value => (JsonNode)new JsonObject { ["type"] = "object", ["additionalProperties"] = value });
        var array = Gen.Select(inner, Gen.Int[0, 2], Gen.Int[0, 3]).Select((items, min, extra) =>
            (JsonNode)new JsonObject { ["type"] = "array", ["items"] = items, ["minItems"] = min, ["maxItems"] = min + extra });
        var anyOf = inner.Array[2, 3].Select(options => (JsonNode)new JsonObject { ["anyOf"] = new JsonArray(options) });
        return Gen.Frequency((3, leaf), (3, obj), (1, map), (2, array), (1, anyOf));
    }

    /// <summary>Random schemas, or now and then a recursive one ($defs and $ref refer to the root, so only there).</summary>
    private static Gen<JsonNode> TopLevel => Gen.Frequency((12, Schema(3)), (1, Fresh(() => JsonNode.Parse("""
        {"$defs":{"tree":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},"kids":{"type":"array","items":{"$ref":"#/$defs/tree"},"maxItems":2}},"required":["v"],"additionalProperties":false}},"$ref":"#/$defs/tree"}
        """)!)));

    /// <summary>A new node each time: a node has one parent.</summary>
    private static Gen<JsonNode> Fresh(Func<JsonNode> create) => Gen.Const(0).Select(_ => create());

    private static JsonNode Node(JsonObject schema, (string Key, int Value)? extra)
    {
        if (extra is { } e)
        {
            schema[e.Key] = e.Value;
        }
        return schema;
    }
}
