using Worker.Engine;
using Worker.Runner;
using Worker.StructuredOutput;

namespace Worker.Api;

public sealed record Usage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A finished choice of a non-streamed response, with its logprobs and prompt_logprobs objects when asked for.</summary>
internal sealed record ChoiceResult(int Index, string Text, FinishReason Finish, object? StopReason, object? Logprobs = null, object? PromptLogprobs = null);

/// <summary>A token a logprobs object lists, with its logprobs; none for an echoed prompt's first token (nothing predicts it).</summary>
internal readonly record struct ShownToken(int Token, TokenLogprobs? Logprobs)
{
    public static IEnumerable<ShownToken> Of(IEnumerable<TokenLogprobs> tokens) => tokens.Select(t => new ShownToken(t.Token, t));
}

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
    object Chunk(ResponseHeader header, int choice, string text, bool first, FinishReason? finish, object? stopReason, bool withUsageField, object? logprobs);

    /// <summary>
    /// The logprobs object of these tokens as this API shapes it. <paramref name="textOffset"/>: where the first token's
    /// text starts in the choice's text (completions' text_offset); moved past them.
    /// </summary>
    object Logprobs(TokenVocabulary vocabulary, IReadOnlyList<ShownToken> tokens, ref int textOffset);

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
            logprobs = c.Logprobs,
            finish_reason = c.Finish.ToApiString(),
            stop_reason = c.StopReason,
            prompt_logprobs = c.PromptLogprobs,
        }),
        ["usage"] = UsageBody(usage),
    };

    public object Chunk(ResponseHeader header, int choice, string text, bool first, FinishReason? finish, object? stopReason, bool withUsageField, object? logprobs) =>
        StreamChunks.WithOptionalUsage(new Dictionary<string, object?>(header.Envelope("text_completion"))
        {
            ["choices"] = new[]
            {
                new { index = choice, text, logprobs, finish_reason = finish?.ToApiString(), stop_reason = stopReason },
            },
        }, withUsageField);

    /// <summary>
    /// The legacy API's four parallel lists; top_logprobs maps each candidate's text to its logprob, the chosen token
    /// included (so N or N + 1 entries, as vLLM returns them). Built now: the caller reuses its list.
    /// </summary>
    public object Logprobs(TokenVocabulary vocabulary, IReadOnlyList<ShownToken> tokens, ref int textOffset)
    {
        var texts = tokens.Select(t => vocabulary.TextOf(t.Token)).ToArray();
        var offsets = new int[texts.Length];
        for (var i = 0; i < texts.Length; i++)
        {
            offsets[i] = textOffset;
            textOffset += texts[i].Length;
        }
        return new
        {
            tokens = texts,
            token_logprobs = tokens.Select(t => t.Logprobs is { } l ? LogprobValues.Finite(l.Logprob) : (float?)null).ToArray(),
            top_logprobs = tokens.Select(t =>
            {
                if (t.Logprobs is not { } l)
                {
                    return null;
                }
                var top = new Dictionary<string, float>();
                foreach (var candidate in l.Top.Prepend(new TopLogprob(l.Token, l.Logprob)))
                {
                    top.TryAdd(vocabulary.TextOf(candidate.Token), LogprobValues.Finite(candidate.Logprob));
                }
                return top;
            }).ToArray(),
            text_offset = offsets,
        };
    }

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
            logprobs = c.Logprobs,
            finish_reason = c.Finish.ToApiString(),
            stop_reason = c.StopReason,
        }),
        ["usage"] = CompletionFormat.UsageBody(usage),
        // vLLM's chat response carries the (one) prompt's logprobs beside the choices.
        ["prompt_logprobs"] = choices.FirstOrDefault()?.PromptLogprobs,
    };

    public object Chunk(ResponseHeader header, int choice, string text, bool first, FinishReason? finish, object? stopReason, bool withUsageField, object? logprobs)
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
                new { index = choice, delta, logprobs, finish_reason = finish?.ToApiString(), stop_reason = stopReason },
            },
        }, withUsageField);
    }

    /// <summary>
    /// OpenAI's chat shape: per token its text, logprob, UTF-8 bytes (the token's own, a piece of a character included)
    /// and the top candidates. Built now: the caller reuses its list.
    /// </summary>
    public object Logprobs(TokenVocabulary vocabulary, IReadOnlyList<ShownToken> shown, ref int textOffset) => new
    {
        content = shown.Select(s => s.Logprobs!).Select(t => new
        {
            token = vocabulary.TextOf(t.Token),
            logprob = LogprobValues.Finite(t.Logprob),
            bytes = LogprobValues.Bytes(vocabulary, t.Token),
            top_logprobs = t.Top.Select(c => new { token = vocabulary.TextOf(c.Token), logprob = LogprobValues.Finite(c.Logprob), bytes = LogprobValues.Bytes(vocabulary, c.Token) }).ToArray(),
        }).ToArray(),
    };

    public object FinalChunk(ResponseHeader header, Usage? usage, PerRequestMetrics? metrics) => StreamChunks.Final(header, "chat.completion.chunk", usage, metrics);
}

internal static class LogprobValues
{
    /// <summary>
    /// vLLM's prompt_logprobs: null for the first prompt token, then per token a map from token id to its logprob, rank
    /// and text: the prompt's own token and the top candidates.
    /// </summary>
    public static object?[] PromptLogprobs(TokenVocabulary vocabulary, IReadOnlyList<TokenLogprobs> entries) =>
        entries.Select(entry =>
        {
            var map = new Dictionary<string, object>
            {
                [entry.Token.ToString(System.Globalization.CultureInfo.InvariantCulture)] = Entry(vocabulary, entry.Token, entry.Logprob, entry.Rank),
            };
            for (var i = 0; i < entry.Top.Length; i++)
            {
                map.TryAdd(entry.Top[i].Token.ToString(System.Globalization.CultureInfo.InvariantCulture), Entry(vocabulary, entry.Top[i].Token, entry.Top[i].Logprob, i + 1));
            }
            return (object?)map;
        }).Prepend(null).ToArray();

    private static object Entry(TokenVocabulary vocabulary, int token, float logprob, int rank) =>
        new { logprob = Finite(logprob), rank, decoded_token = vocabulary.TextOf(token) };

    /// <summary>A masked or cut token's -infinity, which JSON cannot carry, as vLLM writes it: -9999.</summary>
    public static float Finite(float logprob) => Math.Max(logprob, -9999f);

    public static int[] Bytes(TokenVocabulary vocabulary, int token)
    {
        var bytes = vocabulary.BytesOf(token);
        return (bytes.Length > 0 ? bytes.ToArray() : System.Text.Encoding.UTF8.GetBytes(vocabulary.TextOf(token))).Select(b => (int)b).ToArray();
    }
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
