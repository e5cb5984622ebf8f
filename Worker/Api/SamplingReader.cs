using Worker.Engine;

namespace Worker.Api;

/// <summary>Reads and checks the sampling fields that completions and chat share.</summary>
internal static class SamplingReader
{
    public const int MaxN = 128;

    /// <summary>
    /// <paramref name="maxTokensField"/> is what the client set (max_tokens or max_completion_tokens); when it is
    /// absent the request gets <paramref name="defaultMaxTokens"/> or, without one, the rest of the context.
    /// </summary>
    public static SamplingParams Read(JsonFields fields, int promptLength, int maxModelLength, int vocabSize, long? maxTokensField, int? defaultMaxTokens)
    {
        var remaining = maxModelLength - promptLength;
        if (remaining <= 0)
        {
            throw new ApiException(400,
                $"This model's maximum context length is {maxModelLength} tokens. However, your request has {promptLength} input tokens. " +
                "Please reduce the length of the input.", "messages", "context_length_exceeded");
        }
        if (maxTokensField is { } requested && requested > remaining)
        {
            throw new ApiException(400,
                $"'max_tokens' is too large: {requested}. This model's maximum context length is {maxModelLength} tokens and your request has " +
                $"{promptLength} input tokens ({requested} > {maxModelLength} - {promptLength}).", "max_tokens", "context_length_exceeded");
        }

        var stop = fields.StringOrStrings("stop");
        if (stop.Any(s => s.Length == 0))
        {
            throw ApiException.BadRequest("'stop' must not contain empty strings.", "stop");
        }
        var stopTokenIds = fields.Integers("stop_token_ids");
        if (stopTokenIds.Any(t => t < 0 || t >= vocabSize))
        {
            throw ApiException.BadRequest($"'stop_token_ids' must be token ids between 0 and {vocabSize - 1}.", "stop_token_ids");
        }

        return new SamplingParams
        {
            N = (int)(fields.Integer("n", 1, MaxN) ?? 1),
            Temperature = fields.Number("temperature", 0, 2) ?? 1.0,
            TopP = fields.Number("top_p", 0, 1, minExclusive: true) ?? 1.0,
            TopK = (int)(fields.Integer("top_k", -1, int.MaxValue) ?? -1),
            Seed = fields.Integer("seed", long.MinValue, long.MaxValue),
            MaxTokens = (int)(maxTokensField ?? Math.Min(defaultMaxTokens ?? remaining, remaining)),
            RequestedMaxTokens = (int?)maxTokensField,
            Stop = stop,
            StopTokenIds = stopTokenIds,
            IgnoreEos = fields.Bool("ignore_eos") ?? false,
        };
    }

    /// <summary>Fields this server does not implement: refused rather than silently ignored.</summary>
    public static void RefuseUnsupported(JsonFields fields, params string[] names)
    {
        foreach (var name in names)
        {
            if (fields.Get(name) is { } value && value.ValueKind is not (System.Text.Json.JsonValueKind.False or System.Text.Json.JsonValueKind.Null))
            {
                throw ApiException.BadRequest($"'{name}' is not supported by this server.", name);
            }
        }
    }

    /// <summary>include_metrics asks for per-request timing in the response; the server must allow it.</summary>
    public static bool ReadIncludeMetrics(JsonFields fields, bool enabled)
    {
        var asked = fields.Bool("include_metrics") ?? false;
        return asked && !enabled
            ? throw ApiException.BadRequest("Per-request metrics are off on this server; start it with --enable-per-request-metrics.", "include_metrics")
            : asked;
    }

    public static (bool Stream, bool IncludeUsage) ReadStreaming(JsonFields fields)
    {
        var stream = fields.Bool("stream") ?? false;
        var options = fields.Object("stream_options");
        if (options is not null && !stream)
        {
            throw ApiException.BadRequest("'stream_options' can only be set when 'stream' is true.", "stream_options");
        }
        return (stream, options?.Bool("include_usage") ?? false);
    }
}
