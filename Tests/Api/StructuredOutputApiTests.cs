using System.Net;
using System.Text.Json;
using Tests.StructuredOutput;
using Tests.Support;

namespace Tests.Api;

/// <summary>
/// Structured output through the OpenAI API on the tiny model: every field vLLM accepts for it, each output valid,
/// streamed or whole, n > 1; what cannot be compiled is a 400 naming the keyword.
/// </summary>
public class StructuredOutputApiTests(WorkerFixture worker)
{
    private readonly HttpClient _client = worker.CreateClient();

    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},
         "role":{"enum":["admin","user"]},"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":2}},
         "required":["name","age","role"],"additionalProperties":false}
        """;

    private static readonly object Compact = new { disable_any_whitespace = true };

    private async Task<JsonElement> PostOkAsync(string path, object body)
    {
        using var response = await _client.PostJsonAsync(path, body);
        var json = await response.JsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, json.ToString());
        return json;
    }

    private async Task<JsonElement> PostErrorAsync(string path, object body, int status = 400)
    {
        using var response = await _client.PostJsonAsync(path, body);
        Assert.Equal(status, (int)response.StatusCode);
        return (await response.JsonAsync()).GetProperty("error");
    }

    private static object Messages => new[] { new { role = "user", content = "Who is the admin?" } };

    [Fact]
    public async Task ChatWithAJsonSchema_EveryChoiceValidates()
    {
        var body = await PostOkAsync("/v1/chat/completions", new
        {
            messages = Messages, n = 4, seed = 11, temperature = 1.0, max_tokens = 120,
            response_format = new { type = "json_schema", json_schema = new { name = "person", strict = true, schema = JsonDocument.Parse(Person).RootElement } },
            structured_outputs = Compact,
        });
        Assert.Equal(4, body.GetProperty("choices").GetArrayLength());
        foreach (var choice in body.GetProperty("choices").EnumerateArray())
        {
            var content = choice.GetProperty("message").GetProperty("content").GetString()!;
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            Assert.True(Grammars.Validates(Person, content, out var why), $"{content}: {why}");
        }
    }

    [Fact]
    public async Task AStreamedConstrainedCompletion_IsTheWholeOnesText()
    {
        object Request(bool stream) => new
        {
            prompt = "The admin is", max_tokens = 120, seed = 5, temperature = 0.9, stream,
            guided_json = JsonDocument.Parse(Person).RootElement, structured_outputs = Compact,
        };
        var whole = (await PostOkAsync("/v1/completions", Request(stream: false))).GetProperty("choices")[0].GetProperty("text").GetString()!;
        using var response = await _client.PostJsonAsync("/v1/completions", Request(stream: true));
        var events = await Sse.ReadAllAsync(response, TestContext.Current.CancellationToken);
        var streamed = string.Concat(events.Where(e => !e.IsDone).Select(e => e.Json.GetProperty("choices")).Where(c => c.GetArrayLength() > 0).Select(c => c[0].GetProperty("text").GetString()));

        Assert.Equal(whole, streamed);
        Assert.True(Grammars.Validates(Person, streamed, out var why), $"{streamed}: {why}");
    }

    [Fact]
    public async Task ChoiceRegexAndJsonObject_EachShapeTheOutput()
    {
        var choice = await PostOkAsync("/v1/completions", new { prompt = "Pick:", max_tokens = 10, n = 3, temperature = 1.0, seed = 3, structured_outputs = new { choice = new[] { "alpha", "beta gamma", "δ" } } });
        Assert.All(choice.GetProperty("choices").EnumerateArray(), c => Assert.Contains(c.GetProperty("text").GetString(), new[] { "alpha", "beta gamma", "δ" }));

        var regex = await PostOkAsync("/v1/completions", new { prompt = "Code:", max_tokens = 20, n = 3, temperature = 1.0, seed = 4, guided_regex = "[A-Z]{2}-\\d{3}(-x)?" });
        Assert.All(regex.GetProperty("choices").EnumerateArray(), c => Assert.Matches("^[A-Z]{2}-\\d{3}(-x)?$", c.GetProperty("text").GetString()));

        var obj = await PostOkAsync("/v1/chat/completions", new { messages = Messages, max_tokens = 150, seed = 8, temperature = 0.7, response_format = new { type = "json_object" }, structured_outputs = Compact });
        var content = obj.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        if (obj.GetProperty("choices")[0].GetProperty("finish_reason").GetString() == "stop")
        {
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(content).RootElement.ValueKind);
        }
        Assert.StartsWith("{", content);
    }

    [Fact]
    public async Task MaxTokensMidValue_EndsWithLength_AndTheTextIsAPrefixOfAValidValue()
    {
        var body = await PostOkAsync("/v1/chat/completions", new
        {
            messages = Messages, max_tokens = 4, seed = 2,
            response_format = new { type = "json_schema", json_schema = new { name = "person", schema = JsonDocument.Parse(Person).RootElement } },
        });
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var grammar = Grammars.Schema(Person);
        Assert.False(grammar.After(choice.GetProperty("message").GetProperty("content").GetString()!).IsDead);
    }

    public static TheoryData<string, string, string, string> Refusals => new()
    {
        { "/v1/chat/completions", """{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","format":"email"}}}}""", "response_format.json_schema.schema", "format" },
        { "/v1/chat/completions", """{"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"integer","multipleOf":2}}}}""", "response_format.json_schema.schema", "multipleOf" },
        { "/v1/chat/completions", """{"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}""", "response_format.json_schema.schema", "schema" },
        { "/v1/chat/completions", """{"response_format":{"type":"xml"}}""", "response_format.type", "xml" },
        { "/v1/completions", """{"guided_regex":"(?<=a)b"}""", "guided_regex", "regular expression" },
        { "/v1/completions", """{"guided_grammar":"root ::= \"a\""}""", "guided_grammar", "guided_grammar" },
        { "/v1/completions", """{"structured_outputs":{"grammar":"root ::= \"a\""}}""", "structured_outputs.grammar", "structured_outputs.grammar" },
        { "/v1/completions", """{"guided_choice":[]}""", "guided_choice", "non-empty" },
        { "/v1/completions", """{"guided_json":"{not json"}""", "guided_json", "not valid JSON" },
        { "/v1/completions", """{"guided_choice":["a"],"guided_regex":"a"}""", "guided_choice", "Only one kind" },
        { "/v1/chat/completions", """{"response_format":{"type":"json_object"},"structured_outputs":{"regex":"a+"}}""", "structured_outputs.regex", "Only one kind" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task AConstraintThatCannotBeServed_IsA400NamingWhatIsWrong(string path, string fields, string param, string named)
    {
        var body = JsonDocument.Parse(fields).RootElement.EnumerateObject().ToDictionary(p => p.Name, p => (object)p.Value);
        body[path.Contains("chat") ? "messages" : "prompt"] = path.Contains("chat") ? Messages : "hi";
        var error = await PostErrorAsync(path, body);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(named, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AStructuredOutputsConfigWithUnknownKeys_StopsTheWorkerNamingThem()
    {
        const string config = """{\"disable_any_whitespace\":true,\"max_whitespace\":3}""";
        var (exitCode, output) = await ServiceProcess.RunWorkerAsync(
            $"--model \"{TinyModel.Directory}\" --structured-outputs-config \"{config}\" --urls http://127.0.0.1:{Processes.FreeTcpPort()}");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("max_whitespace", output);
    }
}
