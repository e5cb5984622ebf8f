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
        SamplingReader.RefuseUnsupported(fields, "logprobs", "echo", "suffix");
        var prompts = ReadPrompts(fields.Require("prompt"), context.Model);
        var (stream, includeUsage) = SamplingReader.ReadStreaming(fields);
        var includeMetrics = SamplingReader.ReadIncludeMetrics(fields, context.PerRequestMetricsEnabled);
        var maxTokens = fields.Integer("max_tokens", 1, int.MaxValue);
        var sampling = prompts
            .Select(p => SamplingReader.Read(fields, p.Length, context.Model.MaxModelLength, context.Model.Folder.VocabSize, maxTokens, DefaultMaxTokens))
            .ToArray();
        return new GenerationRequest(context.RequestId, context.ModelName, context.Arrival, prompts, sampling, stream, includeUsage, includeMetrics);
    }

    private static int[][] ReadPrompts(JsonElement prompt, LoadedModel model)
    {
        int[][] prompts = prompt.ValueKind switch
        {
            JsonValueKind.String => [model.Encode(prompt.GetString()!)],
            JsonValueKind.Array when prompt.GetArrayLength() == 0 =>
                throw ApiException.BadRequest("'prompt' must not be an empty list.", "prompt"),
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                prompt.EnumerateArray().Select(e => model.Encode(e.GetString()!)).ToArray(),
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
