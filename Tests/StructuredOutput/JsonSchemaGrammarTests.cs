using Worker.StructuredOutput;

namespace Tests.StructuredOutput;

/// <summary>
/// A schema's grammar takes exactly the JSON texts that validate: checked against texts an independent validator
/// (JsonSchema.Net) judges, valid and not, for every supported keyword.
/// </summary>
public class JsonSchemaGrammarTests
{
    public static TheoryData<string, string[], string[]> Cases => new()
    {
        {
            """{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name"],"additionalProperties":false}""",
            ["""{"name":"Ada"}""", """{"name":"Ada","age":36}""", """{ "name" : "A\"da\u00e9" , "age" : -2 }""", "{\"name\":\"Zoë\"}"],
            ["""{}""", """{"age":36}""", """{"age":36,"name":"Ada"}""", """{"name":"Ada","extra":1}""", """{"name":"Ada","age":3.5}""", """{"name":"Ada",}"""]
        },
        {
            """{"type":"string","enum":["red","green"]}""",
            ["\"red\"", "\"green\""],
            ["\"blue\"", "red", "\"re\""]
        },
        {
            """{"const":{"a":[1,2]}}""",
            ["""{"a":[1,2]}"""],
            ["""{"a":[1,3]}"""]
        },
        {
            """{"type":"string","minLength":2,"maxLength":3}""",
            ["\"ab\"", "\"abc\"", "\"a\\n\"", "\"éé\""],
            ["\"a\"", "\"abcd\"", "\"\""]
        },
        {
            """{"type":"string","pattern":"^[a-z]+-\\d{2}$"}""",
            ["\"ab-12\""],
            ["\"ab-1\"", "\"AB-12\"", "\"ab-123\""]
        },
        {
            """{"type":"integer","minimum":-15,"exclusiveMaximum":120}""",
            ["-15", "0", "7", "119", "100"],
            ["-16", "120", "1000", "01", "-0", "5.0"]
        },
        {
            """{"type":"number","minimum":0.5,"maximum":3}""",
            ["1", "2", "3", "1.25", "2.999"],
            ["0", "3.5", "4", "-1", "1e2"]
        },
        {
            """{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}""",
            ["[true]", "[true,false]", "[ false , true ]"],
            ["[]", "[true,true,true]", "[1]"]
        },
        {
            """{"anyOf":[{"type":"null"},{"type":"integer","minimum":1,"maximum":3}]}""",
            ["null", "1", "3"],
            ["0", "4", "\"x\""]
        },
        {
            """{"type":["string","null"]}""",
            ["\"x\"", "null"],
            ["1"]
        },
        {
            """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/node"}""",
            ["""{"v":1,"next":null}""", """{"v":1,"next":{"v":2,"next":{"v":3,"next":null}}}"""],
            ["""{"v":1}""", """{"v":1,"next":{"v":2}}"""]
        },
        {
            """{"type":"string","format":"date-time"}""",
            ["\"2026-12-07T15:08:17Z\"", "\"2026-01-28T00:00:00.5+01:00\""],
            ["\"2026-13-07T15:08:17Z\"", "\"2026-12-07\""]
        },
        {
            """{"type":"object","additionalProperties":{"type":"integer"}}""",
            ["{}", """{"a":1,"b":2}"""],
            ["""{"a":"x"}"""]
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ASchemasGrammar_TakesTheTextsThatValidate_AndNoOthers(string schema, string[] valid, string[] invalid)
    {
        var grammar = Grammars.Schema(schema);
        foreach (var text in valid)
        {
            Assert.True(Grammars.Validates(schema, text, out var why), $"the case itself is wrong: {text} does not validate: {why}");
            Assert.True(grammar.Accepts(text), $"{schema} refused {text}");
        }
        foreach (var text in invalid)
        {
            Assert.False(grammar.Accepts(text), $"{schema} took {text}");
        }
    }

    [Fact]
    public void DisableAnyWhitespace_TakesCompactJsonOnly()
    {
        const string schema = """{"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"}}},"required":["a"],"additionalProperties":false}""";
        var compact = Grammars.Schema(schema, anyWhitespace: false);
        Assert.True(compact.Accepts("""{"a":[1,2]}"""));
        Assert.False(compact.Accepts("""{"a": [1,2]}"""));
        Assert.True(Grammars.Schema(schema).Accepts("{\n  \"a\": [1, 2]\n}"));
    }

    [Fact]
    public void IntegerBounds_TakeEveryIntegerInRange_AndNoneOutside()
    {
        var grammar = Grammars.Schema("""{"type":"integer","minimum":-137,"maximum":1042}""");
        for (var n = -2000; n <= 2000; n++)
        {
            Assert.True(grammar.Accepts(n.ToString()) == n is >= -137 and <= 1042, $"{n}");
        }
    }

    [Fact]
    public void NumberBounds_TakeOnlyNumbersInRange()
    {
        var grammar = Grammars.Schema("""{"type":"number","exclusiveMinimum":-2.5,"maximum":7.25}""");
        var random = new Random(7);
        for (var i = 0; i < 5000; i++)
        {
            var text = (random.NextDouble() * 30 - 15).ToString($"F{random.Next(0, 4)}", System.Globalization.CultureInfo.InvariantCulture);
            var value = double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            if (grammar.Accepts(text))
            {
                Assert.True(value is > -2.5 and <= 7.25, $"took {text}");
            }
        }
        Assert.True(grammar.Accepts("-2") && grammar.Accepts("7") && grammar.Accepts("6.5") && grammar.Accepts("-1.75"));
    }

    public static TheoryData<string, string> Unsupported => new()
    {
        { """{"type":"string","format":"email"}""", "format" },
        { """{"type":"integer","multipleOf":3}""", "multipleOf" },
        { """{"oneOf":[{"type":"string"},{"type":"integer"}]}""", "oneOf" },
        { """{"type":"object","patternProperties":{"^x":{}}}""", "patternProperties" },
        { """{"type":"array","uniqueItems":true}""", "uniqueItems" },
        { """{"type":"object","properties":{"a":{}},"additionalProperties":true}""", "additionalProperties" },
        { """{"type":"string","pattern":"(?=a)b"}""", "pattern" },
        { """{"type":"string","pattern":"(a)\\1"}""", "pattern" },
        { """{"$ref":"https://example.com/s.json"}""", "$ref" },
        { """{"$ref":"#/$defs/missing"}""", "$ref" },
        { """{"type":"integer","minimum":5,"maximum":4}""", "minimum" },
        { """{"type":"strin"}""", "type" },
        { """{"type":"array","minItems":3,"maxItems":2}""", "maxItems" },
        { """{"type":"string","minLength":3,"maxLength":2}""", "maxLength" },
        { """{"if":{"type":"string"}}""", "if" },
    };

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void WhatCannotBeCompiled_IsRefused_NamingTheKeyword(string schema, string keyword)
    {
        var refused = Assert.Throws<UnsupportedSchemaException>(() => Grammars.Schema(schema));
        Assert.Equal(keyword, refused.Keyword);
        Assert.Contains(keyword, refused.Message);
    }

    [Fact]
    public void HostileNesting_IsRefused_NotFollowedToTheEndOfTheStack()
    {
        var pattern = new string('(', 100_000) + "a" + new string(')', 100_000);
        var deepGroups = new System.Text.Json.Nodes.JsonObject { ["type"] = "string", ["pattern"] = pattern }.ToJsonString();
        Assert.Equal("pattern", Assert.Throws<UnsupportedSchemaException>(() => Grammars.Schema(deepGroups)).Keyword);

        var definitions = new System.Text.Json.Nodes.JsonObject();
        for (var i = 0; i < 5000; i++)
        {
            definitions[$"d{i}"] = new System.Text.Json.Nodes.JsonObject { ["$ref"] = $"#/$defs/d{i + 1}" };
        }
        definitions["d5000"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "null" };
        var chain = new System.Text.Json.Nodes.JsonObject { ["$defs"] = definitions, ["$ref"] = "#/$defs/d0" }.ToJsonString();
        Assert.Equal("$ref", Assert.Throws<UnsupportedSchemaException>(() => Grammars.Schema(chain)).Keyword);
    }

    [Fact]
    public void ARecursiveSchema_NestsAsDeepAsTheParseStackAllows()
    {
        var grammar = Grammars.Schema("""{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#"},"maxItems":1}},"required":["c"],"additionalProperties":false}""");
        string Nested(int depth) => depth == 0 ? """{"c":[]}""" : $$"""{"c":[{{Nested(depth - 1)}}]}""";
        Assert.True(grammar.Accepts(Nested(5)));
        Assert.False(grammar.Accepts(Nested(Grammar.MaxStackDepth)));
    }
}
