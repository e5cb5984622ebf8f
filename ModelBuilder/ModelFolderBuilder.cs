using Google.Protobuf;

namespace ModelBuilder;

/// <summary>
/// Builds a complete ONNX Runtime GenAI model folder from the project's corpus: a target model in
/// <c>DIR</c> and its draft (same tokenizer and vocabulary) in <c>DIR/draft</c>. Same size → same bytes.
/// </summary>
public static class ModelFolderBuilder
{
    /// <summary>256 bytes + merges + end-of-text + pad = 512 tokens.</summary>
    public const int MergeCount = 254;

    public const string DraftFolderName = "draft";

    public static void Build(ModelSize size, string directory)
    {
        var vocabulary = BpeTrainer.Train(Corpus.Documents, MergeCount);
        var bigram = BigramTable.Build(vocabulary, Corpus.Text);
        WriteDecoder(size.Target, vocabulary, bigram, directory);
        WriteDecoder(size.Draft, vocabulary, bigram, Path.Combine(directory, DraftFolderName));
    }

    private static void WriteDecoder(ModelShape shape, BpeVocabulary vocabulary, float[] bigram, string directory)
    {
        Directory.CreateDirectory(directory);
        var model = DecoderGraph.Build(shape, vocabulary.Count, bigram);
        using (var file = File.Create(Path.Combine(directory, "model.onnx")))
        {
            model.WriteTo(file);
        }
        GenAiConfigFile.Write(directory, shape, vocabulary);
        TokenizerFiles.Write(vocabulary, directory);
    }
}
