using System.Text.Json;
using Worker.Runner;

namespace Worker.Api;

/// <summary>POST /v1/completions: a prompt as a string, strings, token ids, or lists of token ids.</summary>
internal static class CompletionRequestReader
{
    /// <summary>vLLM's and OpenAI's default for the legacy completions API.</summary>
    private const int DefaultMaxTokens = 16;

    public static GenerationRequest Read(JsonFields fields, RequestContext context)
    {
        SamplingReader.RefuseUnsupported(fields, "suffix", "logit_bias");
        var echo = fields.Bool("echo") ?? false;
        var prompt = fields.Require("prompt");
        var shared = SamplingReader.Read(fields, PromptCount(prompt), context.Model.Folder.VocabSize, context.Limits);
        shared = SamplingReader.Constrain(shared, fields, context);
        var logprobs = (int?)fields.Integer("logprobs", 0, int.MaxValue);
        shared = SamplingReader.WithLogprobs(shared, logprobs, "logprobs", context.Limits, context.Model.Folder.VocabSize);
        // As vLLM: echo with logprobs lists the prompt's tokens too, so their logprobs are computed with as many candidates.
        var promptLogprobs = (int?)fields.Integer("prompt_logprobs", 0, int.MaxValue);
        shared = SamplingReader.WithPromptLogprobs(shared, echo && logprobs is { } n ? Math.Max(n, promptLogprobs ?? 0) : promptLogprobs,
            promptLogprobs is null && echo ? "logprobs" : "prompt_logprobs", context);
        var (stream, includeUsage) = SamplingReader.ReadStreaming(fields);
        var includeMetrics = SamplingReader.ReadIncludeMetrics(fields, context.PerRequestMetricsEnabled);
        // max_tokens 0 asks for the prompt alone (echo only): the engine samples one token, as vLLM's does, that is not shown.
        var maxTokens = fields.Integer("max_tokens", echo ? 0 : 1, int.MaxValue);
        var echoOnly = echo && maxTokens == 0;
        var prompts = ReadPrompts(prompt, context.Model);
        var sampling = prompts
            .Select(p => SamplingReader.ForPrompt(shared, p.Length, "prompt", context.Model.MaxModelLength, (echoOnly ? 1 : maxTokens, "max_tokens"), DefaultMaxTokens))
            .ToArray();
        return new GenerationRequest(context.RequestId, context.ModelName, context.Arrival, prompts, sampling, stream, includeUsage, includeMetrics,
            Echo: echo ? EchoTexts(prompt, prompts, context.Model) : null, EchoOnly: echoOnly);
    }

    /// <summary>What echo repeats: each prompt as it was sent, token-id prompts as their text.</summary>
    private static string[] EchoTexts(JsonElement prompt, int[][] prompts, LoadedModel model) => prompt.ValueKind switch
    {
        JsonValueKind.String => [prompt.GetString()!],
        JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => prompt.EnumerateArray().Select(e => e.GetString()!).ToArray(),
        _ => prompts.Select(ids => model.Decode(ids)).ToArray(),
    };

    /// <summary>How many prompts the field holds: a batch is a list of strings or a list of token-id lists.</summary>
    private static int PromptCount(JsonElement prompt) =>
        prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() > 0 && prompt[0].ValueKind is JsonValueKind.String or JsonValueKind.Array
            ? prompt.GetArrayLength()
            : 1;

    public static int[][] ReadPrompts(JsonElement prompt, LoadedModel model)
    {
        int[][] prompts = prompt.ValueKind switch
        {
            JsonValueKind.String => [model.Encode(JsonFields.Text(prompt, "prompt"))],
            JsonValueKind.Array when prompt.GetArrayLength() == 0 =>
                throw ApiException.BadRequest("'prompt' must not be an empty list.", "prompt"),
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                prompt.EnumerateArray().Select(e => model.Encode(JsonFields.Text(e, "prompt"))).ToArray(),
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) =>
                [TokenIds(prompt, model.Folder.VocabSize)],
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Array) =>
                prompt.EnumerateArray().Select(e => TokenIds(e, model.Folder.VocabSize)).ToArray(),
            _ => throw ApiException.BadRequest(
                "'prompt' must be a string, a list of strings, a list of token ids or a list of lists of token ids.", "prompt"),
        };
        if (prompts.Any(p => p.Length == 0))
        {
            throw ApiException.BadRequest("'prompt' must not be empty.", "prompt");
        }
        return prompts;
    }

    private static int[] TokenIds(JsonElement array, int vocabSize) =>
        array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var id) && id >= 0 && id < vocabSize
            ? id
            : throw ApiException.BadRequest($"'prompt' token ids must be integers between 0 and {vocabSize - 1}.", "prompt")).ToArray();
}
