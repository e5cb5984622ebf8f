using System.Text.Json;
using Worker.Runner;

namespace Worker.Api;

/// <summary>POST /v1/completions: a prompt as a string, strings, token ids, or lists of token ids.</summary>
internal static class CompletionRequestReader
{
    /// <summary>vLLM's and OpenAI's default for the legacy completions API.</summary>
    private const int DefaultMaxTokens = 16;

    public static GenerationRequest Read(JsonFields fields, string requestId, string model, LoadedModel loaded)
    {
        SamplingReader.RefuseUnsupported(fields, "logprobs", "echo", "suffix");
        var prompts = ReadPrompts(fields.Require("prompt"), loaded);
        var (stream, includeUsage) = SamplingReader.ReadStreaming(fields);
        var maxTokens = fields.Integer("max_tokens", 1, int.MaxValue);
        var sampling = prompts
            .Select(p => SamplingReader.Read(fields, p.Length, loaded.MaxModelLength, loaded.Folder.VocabSize, maxTokens, DefaultMaxTokens))
            .ToArray();
        return new GenerationRequest(requestId, model, prompts, sampling, stream, includeUsage);
    }

    private static int[][] ReadPrompts(JsonElement prompt, LoadedModel loaded)
    {
        int[][] prompts = prompt.ValueKind switch
        {
            JsonValueKind.String => [loaded.Encode(prompt.GetString()!)],
            JsonValueKind.Array when prompt.GetArrayLength() == 0 =>
                throw ApiException.BadRequest("'prompt' must not be an empty list.", "prompt"),
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) =>
                prompt.EnumerateArray().Select(e => loaded.Encode(e.GetString()!)).ToArray(),
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number) =>
                [TokenIds(prompt, loaded.Folder.VocabSize)],
            JsonValueKind.Array when prompt.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Array) =>
                prompt.EnumerateArray().Select(e => TokenIds(e, loaded.Folder.VocabSize)).ToArray(),
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
