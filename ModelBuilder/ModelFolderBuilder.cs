using Google.Protobuf;

namespace ModelBuilder;

/// <summary>
/// Builds a complete ONNX Runtime GenAI model folder from the project's corpus: a target model in
/// <c>DIR</c> and its draft (same tokenizer and vocabulary) in <c>DIR/draft</c>; with adapters, a LoRA-ready target
/// and each adapter in <c>DIR/lora/NAME</c>. Same size and names → same bytes.
/// </summary>
public static class ModelFolderBuilder
{
    /// <summary>256 bytes + merges + end-of-text + pad = 512 tokens.</summary>
    public const int MergeCount = 254;

    public const string DraftFolderName = "draft";

    public const string LoraFolderName = "lora";

    public static void Build(ModelSize size, string directory, IReadOnlyList<string>? loraAdapters = null)
    {
        var vocabulary = BpeTrainer.Train(Corpus.Documents, MergeCount);
        var bigram = BigramTable.Build(vocabulary, Corpus.Text);
        var adapters = loraAdapters ?? [];
        WriteDecoder(size.Target, vocabulary, bigram, directory, loraReady: adapters.Count > 0);
        WriteDecoder(size.Draft, vocabulary, bigram, Path.Combine(directory, DraftFolderName), loraReady: false);
        foreach (var name in adapters)
        {
            LoraAdapterBuilder.Write(Path.Combine(directory, LoraFolderName, name), name, size.Target, vocabulary.Count, $"vellum-{size.Name}");
        }
    }

    private static void WriteDecoder(ModelShape shape, BpeVocabulary vocabulary, float[] bigram, string directory, bool loraReady)
    {
        Directory.CreateDirectory(directory);
        var model = DecoderGraph.Build(shape, vocabulary.Count, bigram, loraReady);
        using (var file = File.Create(Path.Combine(directory, "model.onnx")))
        {
            model.WriteTo(file);
        }
        GenAiConfigFile.Write(directory, shape, vocabulary);
        TokenizerFiles.Write(vocabulary, directory);
    }
}
