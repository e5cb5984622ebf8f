using Tests.Support;
using ModelBuilder;
using Worker.Runner;

namespace Tests.Models;

/// <summary>The tokenizer ONNX Runtime GenAI loads from the built files must behave exactly like the builder's own.</summary>
public class TokenizerParityTests : IDisposable
{
    private readonly LoadedModel _model = LoadedModel.Load(TinyModel.Directory, "cpu", null);
    private readonly BpeVocabulary _reference = BpeTrainer.Train(Corpus.Documents, ModelFolderBuilder.MergeCount);

    public static TheoryData<string> Texts => new()
    {
        "héllo wörld ✓ 日本語",
        "tabs\tand\nnewlines\r\n and  double  spaces   ",
        "emoji 🙂🚀 and accents: café, naïve, Ærøskøbing",
        "  leading and trailing  ",
        "numbers 12 340 2.5 99%",
        "x<|endoftext|>y",
    };

    [Fact]
    public void Vocabulary_HasAllMergesAndTheSpecialTokens()
    {
        Assert.Equal(512, _reference.Count);
        Assert.Equal(510, _reference.EndOfTextId);
        Assert.Equal(511, _reference.PadId);
    }

    [Fact]
    public void Encode_EveryCorpusDocument_MatchesTheReferenceEncoder()
    {
        foreach (var document in Corpus.Documents)
        {
            Assert.Equal(_reference.Encode(document), _model.Encode(document));
        }
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Encode_ArbitraryText_MatchesTheReferenceEncoder(string text) =>
        Assert.Equal(_reference.Encode(text), _model.Encode(text));

    [Theory]
    [MemberData(nameof(Texts))]
    public void Decode_RoundTripsText_ExceptSpecialTokens(string text) =>
        Assert.Equal(text.Replace(BpeVocabulary.EndOfText, ""), _model.Decode(_model.Encode(text)));

    [Theory]
    [MemberData(nameof(Texts))]
    public void TokenizerStream_DecodingOneTokenAtATime_RebuildsTheText(string text)
    {
        using var stream = _model.CreateTokenizerStream();
        var rebuilt = string.Concat(_model.Encode(text).Select(stream.Decode));
        Assert.Equal(text.Replace(BpeVocabulary.EndOfText, ""), rebuilt);
    }

    [Fact]
    public void EndOfText_InsideText_IsOneSpecialToken()
    {
        var ids = _model.Encode("x<|endoftext|>y");
        Assert.Equal([_reference.Encode("x")[0], 510, _reference.Encode("y")[0]], ids);
    }

    [Fact]
    public void ChatTemplate_RendersRolesAndTheGenerationPrompt() =>
        Assert.Equal("system: Be brief.\nuser: Hello there.\nassistant:",
            _model.ApplyChatTemplate("""[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there."}]"""));

    public void Dispose() => _model.Dispose();
}
