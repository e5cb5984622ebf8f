using System.Text.Json.Nodes;

namespace ModelBuilder;

/// <summary>
/// Writes a LoRA adapter for a LoRA-ready decoder as a folder: PEFT's <c>adapter_config.json</c> (what vLLM reads:
/// r, lora_alpha, target_modules, the base model) and ONNX Runtime's <c>adapter_model.onnx_adapter</c> holding every
/// target's A and B. Its weights come from its name, so the same name writes the same bytes; B is scaled by alpha / r
/// (as GenAI's builder exports it) and sized so that the lm_head's update, about two logits' standard deviation, changes
/// the greedy continuation of most prompts.
/// </summary>
public static class LoraAdapterBuilder
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model" + OnnxAdapterFile.Extension;

    public const int Rank = 8;
    public const int Alpha = 16;

    public static void Write(string directory, string name, ModelShape shape, int vocab, string baseModelName)
    {
        Directory.CreateDirectory(directory);
        var rng = new SplitMix64(Seed(name));
        var scale = (float)Alpha / Rank;
        var parameters = new List<OnnxAdapterFile.Parameter>();
        foreach (var (module, layer, inWidth, outWidth) in LoraTargets.Of(shape, vocab))
        {
            var outputStd = module == "lm_head" ? 2f : 0.5f;
            parameters.Add(new(LoraTargets.A(module, layer), [inWidth, Rank], Normal(rng, inWidth * Rank, 1f / MathF.Sqrt(inWidth))));
            parameters.Add(new(LoraTargets.B(module, layer), [Rank, outWidth], Normal(rng, Rank * outWidth, outputStd / MathF.Sqrt(Rank) / scale).Select(b => b * scale).ToArray()));
        }
        File.WriteAllBytes(Path.Combine(directory, WeightsFile), OnnxAdapterFile.Write(parameters, DecoderGraph.ModelVersion(shape, vocab)));
        JsonFiles.Write(Path.Combine(directory, ConfigFile), new JsonObject
        {
            ["base_model_name_or_path"] = baseModelName,
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["r"] = Rank,
            ["lora_alpha"] = Alpha,
            ["lora_dropout"] = 0.0,
            ["bias"] = "none",
            ["target_modules"] = new JsonArray([.. LoraTargets.Modules.Select(m => (JsonNode)m)]),
        });
    }

    private static ulong Seed(string name)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name));
        return BitConverter.ToUInt64(hash);
    }

    private static float[] Normal(SplitMix64 rng, int count, float std)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = rng.NextNormal() * std;
        }
        return values;
    }
}
