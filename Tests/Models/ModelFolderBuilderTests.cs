using Microsoft.ML.OnnxRuntimeGenAI;
using Tests.Support;
using ModelBuilder;
using Worker.Runner;

namespace Tests.Models;

public class ModelFolderBuilderTests
{
    [Fact]
    public void Build_SameSizeTwice_WritesBitIdenticalFiles()
    {
        var first = TestFolders.New("first");
        var second = TestFolders.New("second");
        ModelFolderBuilder.Build(ModelSize.Tiny, first);
        ModelFolderBuilder.Build(ModelSize.Tiny, second);

        var files = Directory.GetFiles(first, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(first, f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(
            ["draft/genai_config.json", "draft/model.onnx", "draft/tokenizer.json", "draft/tokenizer_config.json",
             "genai_config.json", "model.onnx", "tokenizer.json", "tokenizer_config.json"],
            files);
        foreach (var file in files)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(first, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second, file))),
                $"{file} differs between two builds");
        }
    }

    [Fact]
    public void Build_WithAdapters_WritesEachAdapterBitIdentically_AndDistinctFromTheOthers()
    {
        var first = TestFolders.New("first-lora");
        var second = TestFolders.New("second-lora");
        ModelFolderBuilder.Build(ModelSize.Tiny, first, ["alpha", "beta"]);
        ModelFolderBuilder.Build(ModelSize.Tiny, second, ["alpha", "beta"]);

        var files = Directory.GetFiles(Path.Combine(first, ModelFolderBuilder.LoraFolderName), "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(first, f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["lora/alpha/adapter_config.json", "lora/alpha/adapter_model.onnx_adapter", "lora/beta/adapter_config.json", "lora/beta/adapter_model.onnx_adapter"], files);
        foreach (var file in files.Append("model.onnx"))
        {
            Assert.True(File.ReadAllBytes(Path.Combine(first, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second, file))),
                $"{file} differs between two builds");
        }
        Assert.False(File.ReadAllBytes(Path.Combine(first, "lora/alpha/adapter_model.onnx_adapter")).AsSpan()
            .SequenceEqual(File.ReadAllBytes(Path.Combine(first, "lora/beta/adapter_model.onnx_adapter"))), "two adapters have the same weights");
    }

    [Fact]
    public void Build_TargetAndDraft_ShareTheVocabularyAndDescribeTheirShapes()
    {
        var target = ModelFolder.Read(TinyModel.Directory);
        var draft = ModelFolder.Read(Path.Combine(TinyModel.Directory, ModelFolderBuilder.DraftFolderName));

        Assert.Equal(target.VocabSize, draft.VocabSize);
        Assert.Equal(File.ReadAllText(Path.Combine(TinyModel.Directory, "tokenizer.json")),
                     File.ReadAllText(Path.Combine(draft.Path, "tokenizer.json")));
        Assert.Equal((2, 64, 4, 2, 16, 512), (target.Layers, target.Hidden, target.Heads, target.KvHeads, target.HeadSize, target.ContextLength));
        Assert.True(draft.Layers < target.Layers && draft.Hidden < target.Hidden);
        Assert.NotNull(target.ChatTemplate);
    }

    [Fact]
    public void Decoder_UsesGroupQueryAttention()
    {
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(TinyModel.Directory, "model.onnx")));
        var attention = model.Graph.Node.Where(n => n.OpType == "GroupQueryAttention").ToArray();

        Assert.Equal(2, attention.Length);
        Assert.All(attention, node => Assert.Equal("com.microsoft", node.Domain));
    }

    [Fact]
    public void DraftModel_PredictsTheTargetsGreedyTokenMostOfTheTime()
    {
        using var target = LoadedModel.Load(TinyModel.Directory, "cpu", null);
        using var draft = LoadedModel.Load(Path.Combine(TinyModel.Directory, ModelFolderBuilder.DraftFolderName), "cpu", null);
        // Teacher-forced over corpus text: at each position, do both models pick the same next token?
        var tokens = target.Encode(string.Join(" ", Corpus.Documents.Take(4)));
        var targetLogits = EveryPositionsLogits(target, tokens);
        var draftLogits = EveryPositionsLogits(draft, tokens);
        var vocab = target.Folder.VocabSize;
        var agreed = Enumerable.Range(0, tokens.Length)
            .Count(i => ArgMax(targetLogits.AsSpan(i * vocab, vocab)) == ArgMax(draftLogits.AsSpan(i * vocab, vocab)));

        Assert.InRange(agreed / (double)tokens.Length, 0.6, 0.95);
    }

    private static float[] EveryPositionsLogits(LoadedModel model, int[] tokens)
    {
        using var runner = new OnnxBatchRunner(model.Decoder, slots: 1, maxLength: model.MaxModelLength);
        return runner.Execute([new RunnerRow(0, tokens, tokens.Length)]);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }
        return best;
    }
}
