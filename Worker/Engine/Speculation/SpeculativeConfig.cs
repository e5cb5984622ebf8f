using System.Text.Json;
using Worker.Runner;

namespace Worker.Engine.Speculation;

/// <summary>
/// --speculative-config, as vLLM takes it: {"method":"draft_model","model":PATH,"num_speculative_tokens":K} or
/// {"method":"ngram","num_speculative_tokens":K,"prompt_lookup_max":N,"prompt_lookup_min":M}. A draft_model without
/// "model" uses the draft folder the caller names (the target's DIR/draft, which the embedded default model ships).
/// </summary>
/// <param name="MinAdaptiveK">This project's extension ("min_adaptive_k", ONNX Runtime GenAI's name): each sequence's K
/// moves between this and num_speculative_tokens with its acceptance. Null: K stays fixed.</param>
/// <param name="DisableByBatchSize">vLLM's "disable_by_batch_size": no guesses in a step where more sequences than this
/// run. Null: the engine's default for the device (see <see cref="SpeculativeDecoding"/>).</param>
public sealed record SpeculativeConfig(string Method, int NumSpeculativeTokens, string? DraftModel, int PromptLookupMax, int PromptLookupMin,
    int? MinAdaptiveK = null, int? DisableByBatchSize = null)
{
    public const string DraftModelMethod = "draft_model";
    public const string NgramMethod = "ngram";
    public const int MaxSpeculativeTokens = 16;

    /// <summary>Reads and checks the JSON alone (options validation): a draft folder is resolved and checked at start-up.</summary>
    public static SpeculativeConfig Parse(string json) => Parse(json, defaultDraftModel: null);

    /// <param name="defaultDraftModel">The folder a draft_model without "model" uses (the target's draft/); null: not resolved yet.</param>
    public static SpeculativeConfig Parse(string json, string? defaultDraftModel)
    {
        var root = Options.JsonSetting.ParseObject(json, Invalid);
        var method = String(root, "method") ?? throw Invalid("\"method\" is required (draft_model or ngram)");
        var k = Int(root, "num_speculative_tokens") ?? throw Invalid("\"num_speculative_tokens\" is required");
        if (k is < 1 or > MaxSpeculativeTokens)
        {
            throw Invalid($"\"num_speculative_tokens\" must be between 1 and {MaxSpeculativeTokens}; got {k}");
        }
        var minAdaptiveK = Int(root, "min_adaptive_k");
        var disableByBatchSize = Int(root, "disable_by_batch_size");
        if (disableByBatchSize is < 1)
        {
            throw Invalid($"\"disable_by_batch_size\" must be at least 1; got {disableByBatchSize}");
        }
        if (minAdaptiveK is { } least && (least < 1 || least > k))
        {
            throw Invalid($"\"min_adaptive_k\" must be between 1 and num_speculative_tokens ({k}); got {least}");
        }
        switch (method)
        {
            case DraftModelMethod:
                var draft = String(root, "model") ?? defaultDraftModel;
                if (draft is null)
                {
                    return new SpeculativeConfig(method, k, null, 0, 0, minAdaptiveK, disableByBatchSize);
                }
                if (!File.Exists(Path.Combine(draft, "genai_config.json")))
                {
                    throw Invalid($"the draft model folder '{draft}' has no genai_config.json");
                }
                return new SpeculativeConfig(method, k, draft, 0, 0, minAdaptiveK, disableByBatchSize);
            case NgramMethod:
                var max = Int(root, "prompt_lookup_max") ?? 3;
                var min = Int(root, "prompt_lookup_min") ?? 1;
                if (min < 1 || max < min)
                {
                    throw Invalid($"\"prompt_lookup_min\" ({min}) must be at least 1 and at most \"prompt_lookup_max\" ({max})");
                }
                return new SpeculativeConfig(method, k, null, max, min, minAdaptiveK, disableByBatchSize);
            default:
                throw Invalid($"\"method\" must be draft_model or ngram; got \"{method}\"");
        }
    }

    /// <summary>The draft must read and write tokens exactly as the target does.</summary>
    public static void CheckDraftMatches(ModelFolder target, ModelFolder draft, int maxModelLength)
    {
        if (draft.VocabSize != target.VocabSize)
        {
            throw Invalid($"the draft's vocabulary has {draft.VocabSize} tokens, the target's {target.VocabSize}");
        }
        var targetTokenizer = File.ReadAllBytes(Path.Combine(target.Path, "tokenizer.json"));
        var draftTokenizer = File.ReadAllBytes(Path.Combine(draft.Path, "tokenizer.json"));
        if (!targetTokenizer.AsSpan().SequenceEqual(draftTokenizer))
        {
            throw Invalid($"the draft's tokenizer.json ({draft.Path}) differs from the target's");
        }
        if (draft.ContextLength < maxModelLength)
        {
            throw Invalid($"the draft's context_length ({draft.ContextLength}) is shorter than --max-model-len ({maxModelLength})");
        }
    }

    private static InvalidOperationException Invalid(string why) => new($"--speculative-config is invalid: {why}.");

    private static string? String(JsonElement root, string name) => root.TryGetProperty(name, out var value) switch
    {
        false => null,
        true when value.ValueKind == JsonValueKind.String => value.GetString(),
        _ => throw Invalid($"\"{name}\" must be a string"),
    };

    private static int? Int(JsonElement root, string name) => root.TryGetProperty(name, out var value) switch
    {
        false => null,
        true when value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) => number,
        _ => throw Invalid($"\"{name}\" must be an integer"),
    };
}
