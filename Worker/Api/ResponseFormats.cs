using Worker.Engine;

namespace Worker.Api;

public sealed record Usage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A finished choice of a non-streamed response.</summary>
internal sealed record ChoiceResult(int Index, string Text, FinishReason Finish, object? StopReason);

/// <summary>The id, creation time and model that every object of one response repeats.</summary>
internal sealed record ResponseHeader(string Id, long Created, string Model)
{
    /// <summary>An object of this response: the header's fields and its OpenAI object type, ready for the rest.</summary>
    public Dictionary<string, object?> Envelope(string objectName) => new()
    {
        ["id"] = Id,
        ["object"] = objectName,
        ["created"] = Created,
        ["model"] = Model,
    };
}

/// <summary>How one OpenAI API shapes its objects: the text completions API or the chat API.</summary>
internal interface IResponseFormat
{
    string IdPrefix { get; }

    Dictionary<string, object?> Complete(ResponseHeader header, IReadOnlyList<ChoiceResult> choices, Usage usage);

    /// <summary>A stream chunk for one choice; <paramref name="first"/> marks that choice's first chunk.</summary>
    object Chunk(ResponseHeader header, int choice, string text, bool first, FinishReason? finish, object? stopReason, bool withUsageField);

    /// <summary>The last chunk before [DONE]: no choices, the usage and/or the per-request metrics.</summary>
    object FinalChunk(ResponseHeader header, Usage? usage, PerRequestMetrics? metrics);
}

internal sealed class CompletionFormat : IResponseFormat
{
    public static readonly CompletionFormat Instance = new();

    public string IdPrefix => "cmpl-";

    public Dictionary<string, object?> Complete(ResponseHeader header, IReadOnlyList<ChoiceResult> choices, Usage usage) => new(header.Envelope("text_completion"))
    {
        ["choices"] = choices.Select(c => new
        {
            index = c.Index,
            text = c.Text,
            logprobs = (object?)null,
            finish_reason = c.Finish.ToApiString(),
            stop_reason = c.StopReason,
        }),
        ["usage"] = UsageBody(usage),
    };

    public object Chunk(ResponseHeader header, int choice, string text, bool first, FinishReason? finish, object? stopReason, bool withUsageField) =>
        StreamChunks.WithOptionalUsage(new Dictionary<string, object?>(header.Envelope("text_completion"))
        {
            ["choices"] = new[]
            {
                new { index = choice, text, logprobs = (object?)null, finish_reason = finish?.ToApiString(), stop_reason = stopReason },
            },
        }, withUsageField);

    public object FinalChunk(ResponseHeader header, Usage? usage, PerRequestMetrics? metrics) => StreamChunks.Final(header, "text_completion", usage, metrics);

    internal static object UsageBody(Usage usage) => new
    {
        prompt_tokens = usage.PromptTokens,
        completion_tokens = usage.CompletionTokens,
        total_tokens = usage.TotalTokens,
    };
}

internal sealed class ChatFormat : IResponseFormat
{
    public static readonly ChatFormat Instance = new();

    public string IdPrefix => "chatcmpl-";

    public Dictionary<string, object?> Complete(ResponseHeader header, IReadOnlyList<ChoiceResult> choices, Usage usage) => new(header.Envelope("chat.completion"))
    {
        ["choices"] = choices.Select(c => new
        {
            index = c.Index,
            message = new { role = "assistant", content = c.Text },
            logprobs = (object?)null,
            finish_reason = c.Finish.ToApiString(),
            stop_reason = c.StopReason,
        }),
        ["usage"] = CompletionFormat.UsageBody(usage),
    };

    public object Chunk(ResponseHeader header, int choice, string text, bool first, FinishReason? finish, object? stopReason, bool withUsageField)
    {
        // The first chunk of a choice names the role; the last one may carry no content, only the finish.
        var delta = new Dictionary<string, object?>();
        if (first)
        {
            delta["role"] = "assistant";
        }
        if (first || text.Length > 0 || finish is null)
        {
            delta["content"] = text;
        }
        return StreamChunks.WithOptionalUsage(new Dictionary<string, object?>(header.Envelope("chat.completion.chunk"))
        {
            ["choices"] = new[]
            {
                new { index = choice, delta, logprobs = (object?)null, finish_reason = finish?.ToApiString(), stop_reason = stopReason },
            },
        }, withUsageField);
    }

    public object FinalChunk(ResponseHeader header, Usage? usage, PerRequestMetrics? metrics) => StreamChunks.Final(header, "chat.completion.chunk", usage, metrics);
}

internal static class StreamChunks
{
    /// <summary>With stream_options.include_usage, OpenAI sends "usage": null on every chunk but the last.</summary>
    public static Dictionary<string, object?> WithOptionalUsage(Dictionary<string, object?> chunk, bool withUsageField)
    {
        if (withUsageField)
        {
            chunk["usage"] = null;
        }
        return chunk;
    }

    public static object Final(ResponseHeader header, string objectName, Usage? usage, PerRequestMetrics? metrics)
    {
        var chunk = header.Envelope(objectName);
        chunk["choices"] = Array.Empty<object>();
        if (usage is not null)
        {
            chunk["usage"] = CompletionFormat.UsageBody(usage);
        }
        if (metrics is not null)
        {
            chunk["metrics"] = metrics.ToBody();
        }
        return chunk;
    }
}
