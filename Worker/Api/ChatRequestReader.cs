using System.Text.Json;
using System.Text.Json.Nodes;
using Worker.Runner;

namespace Worker.Api;

/// <summary>POST /v1/chat/completions: messages rendered with the model's chat template, then tokenized.</summary>
internal static class ChatRequestReader
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool"];

    public static GenerationRequest Read(JsonFields fields, RequestContext context)
    {
        // vLLM's chat "echo" repeats the last message, not the prompt: not supported here, refused rather than ignored.
        SamplingReader.RefuseUnsupported(fields, "tools", "functions", "logit_bias", "echo");
        var shared = SamplingReader.Read(fields, promptCount: 1, context.Model.Folder.VocabSize, context.Limits);
        shared = SamplingReader.Constrain(shared, fields, context);
        var top = (int?)fields.Integer("top_logprobs", 0, int.MaxValue);
        if (top is not null && fields.Bool("logprobs") != true)
        {
            throw ApiException.BadRequest("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs");
        }
        shared = SamplingReader.WithLogprobs(shared, fields.Bool("logprobs") == true ? top ?? 0 : null, "top_logprobs", context.Limits, context.Model.Folder.VocabSize);
        shared = SamplingReader.WithPromptLogprobs(shared, (int?)fields.Integer("prompt_logprobs", 0, int.MaxValue), "prompt_logprobs", context);
        var prompt = Prompt(fields, context.Model);
        var (stream, includeUsage) = SamplingReader.ReadStreaming(fields);
        var includeMetrics = SamplingReader.ReadIncludeMetrics(fields, context.PerRequestMetricsEnabled);
        // max_completion_tokens replaces max_tokens in OpenAI's chat API; both are accepted.
        var maxTokens = fields.Integer("max_completion_tokens", 1, int.MaxValue) is { } completionTokens
            ? (completionTokens, "max_completion_tokens")
            : (fields.Integer("max_tokens", 1, int.MaxValue), "max_tokens");
        var sampling = SamplingReader.ForPrompt(shared, prompt.Length, "messages", context.Model.MaxModelLength, maxTokens, defaultMaxTokens: null);
        return new GenerationRequest(context.RequestId, context.ModelName, context.Arrival, [prompt], [sampling], stream, includeUsage, includeMetrics);
    }

    /// <summary>The request's messages rendered with the model's chat template and tokenized: the prompt the engine runs.</summary>
    public static int[] Prompt(JsonFields fields, LoadedModel model)
    {
        var messages = ReadMessages(fields.Require("messages"));
        string rendered;
        try
        {
            rendered = model.ApplyChatTemplate(messages.ToJsonString());
        }
        catch (Exception e) when (e is not ApiException)
        {
            throw ApiException.BadRequest($"The messages could not be rendered with the model's chat template: {e.Message}", "messages");
        }
        var prompt = model.Encode(rendered);
        return prompt.Length > 0 ? prompt : throw ApiException.BadRequest("The rendered conversation is empty.", "messages");
    }

    /// <summary>Checks each message and reduces content parts to plain text, the form chat templates expect.</summary>
    private static JsonArray ReadMessages(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            throw ApiException.BadRequest("'messages' must be a non-empty list of messages.", "messages");
        }

        var normalized = new JsonArray();
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = $"messages[{index++}]";
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"'{path}' must be an object.", path);
            }
            var fields = new JsonFields(message, path);
            var role = fields.String("role") ?? throw ApiException.BadRequest($"'{path}.role' is a required property.", $"{path}.role");
            if (!Roles.Contains(role))
            {
                throw ApiException.BadRequest($"'{path}.role' must be one of {string.Join(", ", Roles)}; got '{role}'.", $"{path}.role");
            }
            normalized.Add(new JsonObject { ["role"] = role, ["content"] = ReadContent(fields.Get("content"), role, path) });
        }
        return normalized;
    }

    private static string ReadContent(JsonElement? content, string role, string path)
    {
        switch (content)
        {
            case null when role == "assistant":
                return "";
            case null:
                throw ApiException.BadRequest($"'{path}.content' is a required property.", $"{path}.content");
            case { ValueKind: JsonValueKind.String } text:
                return JsonFields.Text(text, $"{path}.content");
            case { ValueKind: JsonValueKind.Array } parts:
                return string.Concat(parts.EnumerateArray().Select((part, i) =>
                    part.ValueKind == JsonValueKind.Object
                    && part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("text")
                    && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                        ? JsonFields.Text(text, $"{path}.content")
                        : throw ApiException.BadRequest($"'{path}.content[{i}]' must be a text part ({{\"type\":\"text\",\"text\":...}}); this model reads text only.", $"{path}.content")));
            default:
                throw ApiException.BadRequest($"'{path}.content' must be a string or a list of content parts.", $"{path}.content");
        }
    }
}
