using Microsoft.ML.OnnxRuntimeGenAI;

namespace Worker.Runner;

/// <summary>
/// A served model: its folder, ONNX Runtime GenAI's tokenizer and chat template, and its decoder in an ONNX Runtime
/// session for the batched runner.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private readonly Tokenizer _tokenizer;
    private readonly Lock _tokenizerLock = new();

    private LoadedModel(ModelFolder folder, OnnxDecoder decoder, Tokenizer tokenizer, int maxModelLength)
    {
        Folder = folder;
        Decoder = decoder;
        _tokenizer = tokenizer;
        MaxModelLength = maxModelLength;
    }

    public ModelFolder Folder { get; }

    /// <summary>Prompt plus output never exceed this many tokens.</summary>
    public int MaxModelLength { get; }

    internal OnnxDecoder Decoder { get; }

    private StructuredOutput.TokenVocabulary? _vocabulary;

    /// <summary>Each token's bytes and text, read from tokenizer.json on first use: what grammars mask and logprobs name.</summary>
    internal StructuredOutput.TokenVocabulary Vocabulary => LazyInitializer.EnsureInitialized(ref _vocabulary,
        () => StructuredOutput.TokenVocabulary.Load(System.IO.Path.Combine(Folder.Path, "tokenizer.json"), Folder.EosTokenIds, Folder.VocabSize));

    /// <param name="modelData">Model files already in memory (a wake-up from sleep level 1): the decoder is read from them instead of the disk.</param>
    public static LoadedModel Load(string path, string device, int? maxModelLength, int? intraOpThreads = null, IReadOnlyDictionary<string, byte[]>? modelData = null)
    {
        var folder = ModelFolder.Read(path);
        if (maxModelLength is { } requested && (requested < 1 || requested > folder.ContextLength))
        {
            throw new InvalidOperationException(
                $"--max-model-len {requested} is out of range: the model's context_length is {folder.ContextLength}.");
        }

        GenAiProcess.EnsureInitialized();
        var decoder = new OnnxDecoder(folder, device, intraOpThreads, modelData?.GetValueOrDefault(folder.DecoderFile));
        return new LoadedModel(folder, decoder, new Tokenizer(path), maxModelLength ?? folder.ContextLength);
    }

    /// <summary>The model's weight files, read into memory: what sleep level 1 keeps to wake up without the disk.</summary>
    public Dictionary<string, byte[]> ReadModelData() =>
        Folder.WeightFiles().ToDictionary(f => System.IO.Path.GetFileName(f), File.ReadAllBytes);

    public int[] Encode(string text)
    {
        lock (_tokenizerLock)
        {
            using var sequences = _tokenizer.Encode(text);
            return sequences[0].ToArray();
        }
    }

    public string Decode(ReadOnlySpan<int> tokens)
    {
        lock (_tokenizerLock)
        {
            return _tokenizer.Decode(tokens);
        }
    }

    /// <summary>Renders OpenAI-style messages (a JSON array) with the model's own chat template.</summary>
    public string ApplyChatTemplate(string messagesJson)
    {
        lock (_tokenizerLock)
        {
            return _tokenizer.ApplyChatTemplate(Folder.ChatTemplate ?? "", messagesJson, "", true);
        }
    }

    /// <summary>An incremental detokenizer: feed one token at a time, get the text it completes.</summary>
    public TokenizerStream CreateTokenizerStream()
    {
        lock (_tokenizerLock)
        {
            return _tokenizer.CreateStream();
        }
    }

    public void Dispose()
    {
        _tokenizer.Dispose();
        Decoder.Dispose();
    }
}
