using Worker.Engine;
using Worker.Runner;

namespace Worker.Api;

/// <summary>Reads and checks the sampling fields that completions and chat share.</summary>
internal static class SamplingReader
{
    public const int MaxN = 128;

    /// <summary>
    /// The fields every prompt of the request shares, read once and before any prompt is tokenized, so that a request
    /// past a limit costs no work. Each prompt then gets its token budget from <see cref="ForPrompt"/>.
    /// </summary>
    public static SamplingParams Read(JsonFields fields, int promptCount, int vocabSize, RequestLimits limits)
    {
        var n = (int)(fields.Integer("n", 1, MaxN) ?? 1);
        if ((long)n * promptCount > limits.MaxSequences)
        {
            throw ApiException.BadRequest(
                $"This request asks for {promptCount} prompt(s) × n = {n}, {(long)n * promptCount} sequences; the server allows {limits.MaxSequences} per request " +
                "(--max-sequences-per-request).", n > 1 ? "n" : "prompt");
        }

        var stop = fields.StringOrStrings("stop");
        if (stop.Count > limits.MaxStopSequences)
        {
            throw ApiException.BadRequest($"'stop' has {stop.Count} strings; the server allows {limits.MaxStopSequences} (--max-stop-sequences).", "stop");
        }
        if (stop.Any(s => s.Length == 0))
        {
            throw ApiException.BadRequest("'stop' must not contain empty strings.", "stop");
        }
        if (stop.Any(s => s.Length > limits.MaxStopSequenceLength))
        {
            throw ApiException.BadRequest($"Each 'stop' string may have at most {limits.MaxStopSequenceLength} characters (--max-stop-sequence-length).", "stop");
        }
        var stopTokenIds = fields.Integers("stop_token_ids");
        if (stopTokenIds.Count > limits.MaxStopTokenIds)
        {
            throw ApiException.BadRequest($"'stop_token_ids' has {stopTokenIds.Count} ids; the server allows {limits.MaxStopTokenIds} (--max-stop-token-ids).", "stop_token_ids");
        }
        if (stopTokenIds.Any(t => t < 0 || t >= vocabSize))
        {
            throw ApiException.BadRequest($"'stop_token_ids' must be token ids between 0 and {vocabSize - 1}.", "stop_token_ids");
        }

        return new SamplingParams
        {
            N = n,
            Temperature = fields.Number("temperature", 0, 2) ?? 1.0,
            TopP = fields.Number("top_p", 0, 1, minExclusive: true) ?? 1.0,
            TopK = (int)(fields.Integer("top_k", -1, int.MaxValue) ?? -1),
            Seed = fields.Integer("seed", long.MinValue, long.MaxValue),
            MaxTokens = 0,
            Stop = stop,
            StopTokenIds = stopTokenIds.ToHashSet(),
            IgnoreEos = fields.Bool("ignore_eos") ?? false,
        };
    }

    /// <summary>
    /// Logprobs per sampled token with <paramref name="top"/> candidates (null: none), within --max-logprobs, in the
    /// server's --logprobs-mode. <paramref name="param"/> names the field that asked (logprobs or top_logprobs).
    /// </summary>
    public static SamplingParams WithLogprobs(SamplingParams shared, int? top, string param, RequestLimits limits, int vocabSize)
    {
        if (top is not { } count)
        {
            return shared;
        }
        var max = limits.MaxLogprobs == -1 ? vocabSize : limits.MaxLogprobs;
        if (count > max)
        {
            throw ApiException.BadRequest($"'{param}' asks for {count} logprobs per token; the server allows at most {max} (--max-logprobs).", param);
        }
        return shared with { Logprobs = count, LogprobsMode = limits.LogprobsMode };
    }

    /// <summary>
    /// vLLM's prompt_logprobs: each prompt token's logprob with <paramref name="top"/> candidates (null: none), within
    /// --max-logprobs. It needs the logits of every prompt position, which a model exported for the last position only lacks.
    /// </summary>
    public static SamplingParams WithPromptLogprobs(SamplingParams shared, int? top, string param, RequestContext context)
    {
        if (top is not { } count)
        {
            return shared;
        }
        var max = context.Limits.MaxLogprobs == -1 ? context.Model.Folder.VocabSize : context.Limits.MaxLogprobs;
        if (count > max)
        {
            throw ApiException.BadRequest($"'{param}' asks for {count} logprobs per prompt token; the server allows at most {max} (--max-logprobs).", param);
        }
        if (!context.Model.Decoder.LogitsPerPosition)
        {
            throw ApiException.BadRequest($"'{param}' needs the logits of every prompt position; this model's export returns the last position's only.", param);
        }
        return shared with { PromptLogprobs = count };
    }

    /// <summary>The request's structured-output constraint, compiled before any prompt is tokenized: every sequence samples under it.</summary>
    public static SamplingParams Constrain(SamplingParams shared, JsonFields fields, RequestContext context) =>
        StructuredOutputReader.Read(fields) is { } constraint
            ? shared with { Grammar = context.StructuredOutputs.Compile(constraint, context.Model) }
            : shared;

    /// <summary>
    /// One prompt's token budget. <paramref name="maxTokens"/> is what the client set (max_tokens or
    /// max_completion_tokens, named as sent); when it is absent the prompt gets <paramref name="defaultMaxTokens"/> or,
    /// without one, the rest of the context. <paramref name="promptParam"/> names the prompt's field ("prompt" or "messages").
    /// </summary>
    public static SamplingParams ForPrompt(SamplingParams shared, int promptLength, string promptParam, int maxModelLength,
        (long? Value, string Param) maxTokens, int? defaultMaxTokens)
    {
        var remaining = maxModelLength - promptLength;
        if (remaining <= 0)
        {
            throw new ApiException(400,
                $"This model's maximum context length is {maxModelLength} tokens. However, your request has {promptLength} input tokens. " +
                "Please reduce the length of the input.", promptParam, "context_length_exceeded");
        }
        if (maxTokens.Value is { } requested && requested > remaining)
        {
            throw new ApiException(400,
                $"'{maxTokens.Param}' is too large: {requested}. This model's maximum context length is {maxModelLength} tokens and your request has " +
                $"{promptLength} input tokens ({requested} > {maxModelLength} - {promptLength}).", maxTokens.Param, "context_length_exceeded");
        }
        return shared with
        {
            MaxTokens = (int)(maxTokens.Value ?? Math.Min(defaultMaxTokens ?? remaining, remaining)),
            RequestedMaxTokens = (int?)maxTokens.Value,
        };
    }

    /// <summary>Fields this server does not implement: refused rather than silently ignored.</summary>
    public static void RefuseUnsupported(JsonFields fields, params string[] names)
    {
        foreach (var name in names)
        {
            if (fields.Get(name) is { } value && !IsEmpty(value))
            {
                throw ApiException.BadRequest($"'{name}' is not supported by this server.", name);
            }
        }
    }

    /// <summary>false, {} and [] ask for nothing: clients that send a field's empty default are not refused.</summary>
    private static bool IsEmpty(System.Text.Json.JsonElement value) => value.ValueKind switch
    {
        System.Text.Json.JsonValueKind.False => true,
        System.Text.Json.JsonValueKind.Object => !value.EnumerateObject().Any(),
        System.Text.Json.JsonValueKind.Array => value.GetArrayLength() == 0,
        _ => false,
    };

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
