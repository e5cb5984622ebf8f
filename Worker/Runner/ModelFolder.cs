using System.Text.Json;

namespace Worker.Runner;

/// <summary>What the worker needs to know about a model folder, read from genai_config.json and tokenizer_config.json.</summary>
public sealed record ModelFolder(
    string Path,
    int ContextLength,
    int VocabSize,
    IReadOnlyList<int> EosTokenIds,
    int Layers,
    int Hidden,
    int Heads,
    int KvHeads,
    int HeadSize,
    string DecoderFile,
    string? ChatTemplate)
{
    /// <summary>The ONNX graphs and their external weight data: what a forward pass reads, and what sleep level 1 keeps.</summary>
    public IReadOnlyList<string> WeightFiles() =>
        Directory.EnumerateFiles(Path).Where(f => f.EndsWith(".onnx", StringComparison.Ordinal) || f.EndsWith(".onnx.data", StringComparison.Ordinal)).ToArray();

    public long WeightBytes() => WeightFiles().Sum(f => new FileInfo(f).Length);

    public static ModelFolder Read(string path)
    {
        var configPath = System.IO.Path.Combine(path, "genai_config.json");
        if (!File.Exists(configPath))
        {
            throw new InvalidOperationException($"'{path}' is not an ONNX Runtime GenAI model folder: genai_config.json is missing.");
        }

        using var config = JsonDocument.Parse(File.ReadAllText(configPath));
        var model = config.RootElement.GetProperty("model");
        var decoder = model.GetProperty("decoder");
        var eos = model.GetProperty("eos_token_id");
        var heads = decoder.GetProperty("num_attention_heads").GetInt32();
        return new ModelFolder(
            Path: path,
            ContextLength: model.GetProperty("context_length").GetInt32(),
            VocabSize: model.GetProperty("vocab_size").GetInt32(),
            EosTokenIds: eos.ValueKind == JsonValueKind.Array ? eos.EnumerateArray().Select(e => e.GetInt32()).ToArray() : [eos.GetInt32()],
            Layers: decoder.GetProperty("num_hidden_layers").GetInt32(),
            Hidden: decoder.GetProperty("hidden_size").GetInt32(),
            Heads: heads,
            KvHeads: decoder.TryGetProperty("num_key_value_heads", out var kv) ? kv.GetInt32() : heads,
            HeadSize: decoder.GetProperty("head_size").GetInt32(),
            DecoderFile: decoder.TryGetProperty("filename", out var file) ? file.GetString()! : "model.onnx",
            ChatTemplate: ReadChatTemplate(path));
    }

    private static string? ReadChatTemplate(string path)
    {
        var tokenizerConfig = System.IO.Path.Combine(path, "tokenizer_config.json");
        if (!File.Exists(tokenizerConfig))
        {
            return null;
        }
        using var document = JsonDocument.Parse(File.ReadAllText(tokenizerConfig));
        return document.RootElement.TryGetProperty("chat_template", out var template) && template.ValueKind == JsonValueKind.String
            ? template.GetString()
            : null;
    }
}
