using System.Text.Json;
using ModelBuilder;

namespace Worker.Runner;

/// <summary>
/// Checks a LoRA adapter folder against the base decoder before it is served: PEFT's adapter_config.json (its rank r
/// within --max-lora-rank, as vLLM checks) and ONNX Runtime's .onnx_adapter file, each of whose parameters must be a
/// LoRA input of the base's graph with a shape that fits it, exported for this base (the model_version both carry).
/// A bad adapter is refused here, at start-up or load, with what is wrong, never at its first request.
/// </summary>
internal static class LoraAdapterCheck
{
    /// <returns>The adapter's rank.</returns>
    /// <exception cref="InvalidOperationException">What is wrong with the adapter, naming it.</exception>
    public static int Check(string name, string folder, OnnxDecoder decoder, int maxLoraRank)
    {
        InvalidOperationException Bad(string why) => new($"The LoRA adapter '{name}' ({folder}) cannot be served: {why}.");

        if (decoder.LoraInputs.Count == 0)
        {
            throw Bad("the base model's graph takes no LoRA weights (export it LoRA-ready: build-model --lora NAME, or ONNX Runtime GenAI's builder with an adapter)");
        }
        var configPath = Path.Combine(folder, LoraAdapterBuilder.ConfigFile);
        var weightsPath = Path.Combine(folder, LoraAdapterBuilder.WeightsFile);
        if (!File.Exists(configPath))
        {
            throw Bad($"{configPath} does not exist");
        }
        if (!File.Exists(weightsPath))
        {
            throw Bad($"{weightsPath} does not exist (ONNX Runtime's adapter file)");
        }
        int configRank;
        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(configPath));
            configRank = config.RootElement.TryGetProperty("r", out var r) && r.TryGetInt32(out var rank) && rank > 0
                ? rank
                : throw Bad($"{LoraAdapterBuilder.ConfigFile} gives no positive integer rank \"r\"");
        }
        catch (JsonException e)
        {
            throw Bad($"{LoraAdapterBuilder.ConfigFile} is not valid JSON ({e.Message})");
        }
        if (configRank > maxLoraRank)
        {
            throw Bad($"its rank {configRank} is greater than --max-lora-rank {maxLoraRank}");
        }

        (int ModelVersion, IReadOnlyList<(string Name, long[] Dims, int DataType)> Parameters) header;
        try
        {
            header = OnnxAdapterFile.ReadHeader(File.ReadAllBytes(weightsPath));
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            throw Bad($"{LoraAdapterBuilder.WeightsFile} {e.Message}");
        }
        if (header.ModelVersion != 0 && decoder.ModelVersion != 0 && header.ModelVersion != decoder.ModelVersion)
        {
            throw Bad($"it was exported for another base model (its model_version is {header.ModelVersion}, this model's {decoder.ModelVersion})");
        }
        if (header.Parameters.Count == 0)
        {
            throw Bad($"{LoraAdapterBuilder.WeightsFile} holds no parameters");
        }
        foreach (var (parameter, dims, dataType) in header.Parameters)
        {
            if (!decoder.LoraInputs.TryGetValue(parameter, out var expected))
            {
                throw Bad($"its parameter '{parameter}' is not a LoRA input of the base model");
            }
            var fits = dims.Length == expected.Dims.Length && dims.Zip(expected.Dims).All(d => d.Second < 0 || d.First == d.Second);
            if (!fits)
            {
                throw Bad($"its parameter '{parameter}' is [{string.Join(", ", dims)}], which does not fit the base's [{string.Join(", ", expected.Dims.Select(d => d < 0 ? "r" : d.ToString()))}]");
            }
            var rank = parameter.Contains(".lora_A.", StringComparison.Ordinal) ? dims[^1] : dims[0];
            if (rank != configRank)
            {
                throw Bad($"its parameter '{parameter}' has rank {rank}, but {LoraAdapterBuilder.ConfigFile} says r = {configRank}");
            }
            if (dataType != (int)expected.Type)
            {
                throw Bad($"its parameter '{parameter}' has ONNX data type {dataType}; the base takes {expected.Type} ({(int)expected.Type})");
            }
        }
        return configRank;
    }
}
