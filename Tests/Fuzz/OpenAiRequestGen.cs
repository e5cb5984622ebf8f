using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace Tests.Fuzz;

/// <summary>One HTTP request the fuzzer sends, as bytes on the wire, and what it was made from.</summary>
public sealed record FuzzRequest(string Kind, string Path, byte[] Body, string? ContentType, (string Name, string Value)? Header = null, int? DeclaredLength = null)
{
    public override string ToString() =>
        $"{Kind} {Path} [{ContentType}] {(Header is { } h ? $"{h.Name}: {h.Value.Length} chars " : "")}{(DeclaredLength is { } d ? $"declares {d} bytes " : "")}" +
        Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 400));
}

/// <summary>
/// Generators for the OpenAI endpoints: valid completion and chat requests, and mutations of them that a hostile or
/// broken client sends (wrong types, boundary numbers, invalid UTF-8 and lone UTF-16 surrogates in strings, huge arrays,
/// deep nesting, duplicated keys, truncated bodies, wrong content types, oversized headers).
/// </summary>
public static class OpenAiRequestGen
{
    private static readonly string[] Words = ["the", "sea", "lamp", "keeper", "night", "ship", "é", "海", "🙂", "stop", "\n", " "];

    private static readonly Gen<string> Text = Gen.OneOf(Words).Array[1, 6].Select(words => string.Join(" ", words));

    // JSON can spell an unpaired surrogate but no JsonNode can hold one: placeholders, spelled out after serialization.
    private const string LoneHighSurrogate = "LONE-HIGH-SURROGATE";
    private const string LoneLowSurrogate = "LONE-LOW-SURROGATE";

    /// <summary>Values no field expects, or only at its edge.</summary>
    private static readonly Gen<JsonNode?> HostileValue = Gen.OneOf<JsonNode?>(
        Gen.Const(() => (JsonNode?)null), Gen.Const<JsonNode?>(true), Gen.Const<JsonNode?>(0), Gen.Const<JsonNode?>(-1), Gen.Const<JsonNode?>(1.5),
        Gen.Const<JsonNode?>(JsonNode.Parse("1e309")), Gen.Const<JsonNode?>(JsonNode.Parse("-1e309")), Gen.Const<JsonNode?>(JsonNode.Parse("9223372036854775808")),
        Gen.Const<JsonNode?>(2147483648L), Gen.Const<JsonNode?>(-2147483649L), Gen.Const<JsonNode?>(1e-310), Gen.Const<JsonNode?>(""),
        Gen.Const<JsonNode?>(LoneHighSurrogate), Gen.Const<JsonNode?>(LoneLowSurrogate), Gen.Const<JsonNode?>(new JsonArray()),
        Gen.Const<JsonNode?>(new JsonObject()), Gen.Const<JsonNode?>(JsonNode.Parse("[[[[]]]]")), Gen.Const<JsonNode?>(JsonNode.Parse("{\"a\": [1, {\"b\": null}]}")),
        Gen.Int.Select(i => (JsonNode?)i), Gen.Double.Select(d => double.IsFinite(d) ? (JsonNode?)d : 0), Text.Select(t => (JsonNode?)t),
        Gen.Int[0, 600].Array[0, 8].Select(ids => (JsonNode?)new JsonArray([.. ids.Select(i => (JsonNode?)i)])));

    private static readonly string[] CompletionFields = ["model", "prompt", "max_tokens", "n", "temperature", "top_p", "top_k", "seed", "stop", "stop_token_ids", "stream", "stream_options", "ignore_eos", "logprobs", "echo", "prompt_logprobs", "logit_bias", "include_metrics",
        "response_format", "structured_outputs", "guided_json", "guided_regex", "guided_choice", "unknown_field"];

    private static readonly string[] ChatFields = ["model", "messages", "max_tokens", "max_completion_tokens", "n", "temperature", "top_p", "top_k", "seed", "stop", "stop_token_ids", "stream", "stream_options", "ignore_eos", "tools", "logit_bias",
        "logprobs", "top_logprobs", "prompt_logprobs", "response_format", "structured_outputs", "unknown_field"];

    /// <summary>A structured-output constraint now and then (small enough for a few tokens to matter), or none.</summary>
    private static readonly Gen<JsonObject> Constraint = Gen.OneOf(
        Gen.Const(() => new JsonObject()),
        Gen.Const(() => new JsonObject()),
        Gen.Const(() => new JsonObject { ["response_format"] = new JsonObject { ["type"] = "json_object" } }),
        Gen.Const(() => new JsonObject { ["guided_choice"] = new JsonArray("yes", "no", "é") }),
        Gen.Const(() => new JsonObject { ["structured_outputs"] = new JsonObject { ["regex"] = "[a-z]{1,3}\\d?" } }),
        Gen.Const(() => new JsonObject
        {
            ["response_format"] = JsonNode.Parse("""{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"integer","maximum":9}},"required":["a"],"additionalProperties":false}}}"""),
        }));

    public static readonly Gen<JsonObject> Completion =
        from prompt in Gen.OneOf<JsonNode>(
            Text.Select(t => (JsonNode)t),
            Text.Array[1, 3].Select(ts => (JsonNode)new JsonArray([.. ts.Select(t => (JsonNode?)t)])),
            Gen.Int[0, 511].Array[1, 6].Select(ids => (JsonNode)new JsonArray([.. ids.Select(i => (JsonNode?)i)])))
        from sampling in Sampling
        from constraint in Constraint
        from logprobs in Gen.Int[-1, 3]
        from echo in Gen.Bool
        select With(With(new JsonObject { ["prompt"] = prompt }, sampling), With(constraint, logprobs < 0 ? [] : new JsonObject { ["logprobs"] = logprobs, ["echo"] = echo }));

    public static readonly Gen<JsonObject> Chat =
        from messages in (from role in Gen.OneOf("system", "user", "assistant", "developer") from content in Text select (role, content)).Array[1, 4]
        from sampling in Sampling
        from constraint in Constraint
        from topLogprobs in Gen.Int[-1, 3]
        select With(With(new JsonObject { ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode?)new JsonObject { ["role"] = m.role, ["content"] = m.content })]) }, sampling),
            With(constraint, topLogprobs < 0 ? [] : new JsonObject { ["logprobs"] = true, ["top_logprobs"] = topLogprobs }));

    private static Gen<JsonObject> Sampling =>
        from maxTokens in Gen.Int[1, 4]
        from n in Gen.Int[1, 3]
        from temperature in Gen.OneOf(Gen.Const(0.0), Gen.Double[0, 2])
        from topP in Gen.Double[0.05, 1]
        from topK in Gen.Int[-1, 40]
        from seed in Gen.Int
        from stop in Text.Array[0, 3]
        from stream in Gen.Bool
        from includeUsage in Gen.Bool
        from ignoreEos in Gen.Bool
        select new JsonObject
        {
            ["model"] = OpenAiFuzzTarget.ModelName,
            ["max_tokens"] = maxTokens,
            ["n"] = n,
            ["temperature"] = temperature,
            ["top_p"] = topP,
            ["top_k"] = topK,
            ["seed"] = seed,
            ["stop"] = new JsonArray([.. stop.Select(s => (JsonNode?)s)]),
            ["stream"] = stream,
            ["stream_options"] = stream ? new JsonObject { ["include_usage"] = includeUsage } : null,
            ["ignore_eos"] = ignoreEos,
        };

    /// <summary>A valid request, or one broken in one of the ways hostile clients break them.</summary>
    public static readonly Gen<FuzzRequest> Request =
        from chat in Gen.Bool
        from valid in chat ? Chat : Completion
        from request in Gen.Frequency(
            (3, Gen.Const(Json("valid", chat, valid))),
            (4, ReplaceField(chat, valid)),
            (2, SurrogateInAString(chat, valid)),
            (2, InvalidUtf8(chat, valid)),
            (1, HugeArray(chat, valid)),
            (1, DeepNesting(chat, valid)),
            (1, DuplicatedKey(chat, valid)),
            (2, Truncated(chat, valid)),
            (1, WrongContentType(chat, valid)),
            (1, OversizedHeader(chat, valid)),
            (1, ShortBody(chat, valid)))
        select request;

    private static string PathOf(bool chat) => chat ? "/v1/chat/completions" : "/v1/completions";

    private static FuzzRequest Json(string kind, bool chat, JsonObject body) =>
        new(kind, PathOf(chat), Encoding.UTF8.GetBytes(body.ToJsonString().Replace(LoneHighSurrogate, "\\ud800").Replace(LoneLowSurrogate, "x\\udfffy")), "application/json");

    private static JsonObject With(JsonObject body, JsonObject fields)
    {
        foreach (var (name, value) in fields.ToArray())
        {
            fields.Remove(name);
            body[name] = value;
        }
        return body;
    }

    private static Gen<FuzzRequest> ReplaceField(bool chat, JsonObject valid) =>
        from field in Gen.OneOf(chat ? ChatFields : CompletionFields)
        from value in HostileValue
        select Json("replace " + field, chat, Mutated(valid, body => body[field] = value?.DeepClone()));

    private static Gen<FuzzRequest> SurrogateInAString(bool chat, JsonObject valid) =>
        from surrogate in Gen.OneOf("\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83d")
        from which in Gen.Int[0, 3]
        select new FuzzRequest("surrogate", PathOf(chat), Encoding.UTF8.GetBytes(ReplaceNthString(valid.ToJsonString(), which, s => s.Insert(s.Length / 2, surrogate))), "application/json");

    private static Gen<FuzzRequest> InvalidUtf8(bool chat, JsonObject valid) =>
        from bad in Gen.OneOf<byte[]>([0xff], [0xfe, 0xfe], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80])
        from which in Gen.Int[0, 3]
        select new FuzzRequest("invalid utf-8", PathOf(chat), InsertIntoNthString(valid.ToJsonString(), which, bad), "application/json");

    private static Gen<FuzzRequest> HugeArray(bool chat, JsonObject valid) =>
        from size in Gen.Int[300, 20_000]
        from field in Gen.OneOf(chat ? "messages" : "prompt", "stop", "stop_token_ids")
        select Json("huge " + field, chat, Mutated(valid, body => body[field] = field switch
        {
            "messages" => new JsonArray([.. Enumerable.Range(0, size).Select(i => (JsonNode?)new JsonObject { ["role"] = "user", ["content"] = "hi" })]),
            "stop_token_ids" => new JsonArray([.. Enumerable.Range(0, size).Select(i => (JsonNode?)(i % 500))]),
            _ => new JsonArray([.. Enumerable.Range(0, size).Select(i => (JsonNode?)$"s{i}")]),
        }));

    private static Gen<FuzzRequest> DeepNesting(bool chat, JsonObject valid) =>
        from depth in Gen.Int[30, 3000]
        from field in Gen.OneOf(chat ? "messages" : "prompt", "stop", "stream_options")
        select new FuzzRequest("nesting " + depth, PathOf(chat),
            Encoding.UTF8.GetBytes(Mutated(valid, body => body.Remove(field)).ToJsonString().TrimEnd('}') + $", \"{field}\": {new string('[', depth)}1{new string(']', depth)}}}"), "application/json");

    private static Gen<FuzzRequest> DuplicatedKey(bool chat, JsonObject valid) =>
        from field in Gen.OneOf(chat ? "messages" : "prompt", "max_tokens", "model", "stream")
        select new FuzzRequest("duplicate " + field, PathOf(chat),
            Encoding.UTF8.GetBytes(valid.ToJsonString().TrimEnd('}') + $", \"{field}\": {valid[field]?.ToJsonString() ?? "1"}}}"), "application/json");

    private static Gen<FuzzRequest> Truncated(bool chat, JsonObject valid)
    {
        var bytes = Encoding.UTF8.GetBytes(valid.ToJsonString());
        return Gen.Int[0, bytes.Length - 1].Select(cut => new FuzzRequest("truncated", PathOf(chat), bytes[..cut], "application/json"));
    }

    private static Gen<FuzzRequest> WrongContentType(bool chat, JsonObject valid) =>
        Gen.OneOf("text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/octet-stream")
            .Select(type => Json("valid", chat, valid) with { Kind = "content type " + type, ContentType = type });

    private static Gen<FuzzRequest> OversizedHeader(bool chat, JsonObject valid) =>
        from length in Gen.Int[8_000, 200_000]
        from name in Gen.OneOf("X-Request-Id", "X-Padding", "Authorization")
        select Json("header " + name, chat, valid) with { Header = (name, new string('h', length)) };

    /// <summary>A body shorter than its Content-Length, then the client stops sending.</summary>
    private static Gen<FuzzRequest> ShortBody(bool chat, JsonObject valid)
    {
        var bytes = Encoding.UTF8.GetBytes(valid.ToJsonString());
        return Gen.Int[0, bytes.Length - 1].Select(cut => new FuzzRequest("short body", PathOf(chat), bytes[..cut], "application/json", DeclaredLength: bytes.Length));
    }

    private static JsonObject Mutated(JsonObject valid, Action<JsonObject> change)
    {
        var copy = (JsonObject)valid.DeepClone();
        change(copy);
        return copy;
    }

    /// <summary>Rewrites the <paramref name="n"/>th JSON string value of the serialized body (wrapping around).</summary>
    private static string ReplaceNthString(string json, int n, Func<string, string> rewrite)
    {
        var strings = StringSpans(json);
        var (start, length) = strings[n % strings.Count];
        return json[..start] + rewrite(json.Substring(start, length)) + json[(start + length)..];
    }

    private static byte[] InsertIntoNthString(string json, int n, byte[] bad)
    {
        var strings = StringSpans(json);
        var (start, length) = strings[n % strings.Count];
        var at = Encoding.UTF8.GetByteCount(json[..(start + length / 2)]);
        var bytes = Encoding.UTF8.GetBytes(json);
        return [.. bytes[..at], .. bad, .. bytes[at..]];
    }

    /// <summary>Where the contents of each string value (not key) are in <paramref name="json"/>, as written by System.Text.Json.</summary>
    private static List<(int Start, int Length)> StringSpans(string json)
    {
        var spans = new List<(int, int)>();
        for (var i = 0; i < json.Length; i++)
        {
            if (json[i] != '"')
            {
                continue;
            }
            var end = i + 1;
            while (json[end] != '"')
            {
                end += json[end] == '\\' ? 2 : 1;
            }
            var isKey = end + 1 < json.Length && json[end + 1] == ':';
            if (!isKey)
            {
                spans.Add((i + 1, end - i - 1));
            }
            i = end;
        }
        return spans;
    }
}
