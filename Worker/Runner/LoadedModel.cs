using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Worker.Runner;

/// <summary>
/// One ONNX Runtime GenAI model and its tokenizer, shared by every sequence. Each sequence gets its own
/// <see cref="SequenceGenerator"/>; the model itself is safe to run from several generators at once.
/// </summary>
public sealed class LoadedModel : IDisposable
{
    private readonly Model _model;
    private readonly Tokenizer _tokenizer;
    private readonly Lock _tokenizerLock = new();
    private int _liveGenerators;

    private LoadedModel(ModelFolder folder, Model model, Tokenizer tokenizer, int maxModelLength)
    {
        Folder = folder;
        _model = model;
        _tokenizer = tokenizer;
        MaxModelLength = maxModelLength;
    }

    public ModelFolder Folder { get; }

    /// <summary>Prompt plus output never exceed this many tokens.</summary>
    public int MaxModelLength { get; }

    /// <summary>Generators created and not yet disposed: a leak shows here.</summary>
    public int LiveGenerators => Volatile.Read(ref _liveGenerators);

    /// <param name="modelData">Model files already in memory (a wake-up from sleep level 1): ONNX Runtime GenAI reads them instead of the disk.</param>
    public static LoadedModel Load(string path, string device, int? maxModelLength, int? intraOpThreads = null, IReadOnlyDictionary<string, byte[]>? modelData = null)
    {
        var folder = ModelFolder.Read(path);
        if (maxModelLength is { } requested && (requested < 1 || requested > folder.ContextLength))
        {
            throw new InvalidOperationException(
                $"--max-model-len {requested} is out of range: the model's context_length is {folder.ContextLength}.");
        }

        GenAiProcess.EnsureInitialized();
        using var config = new Config(path);
        foreach (var (file, bytes) in modelData ?? new Dictionary<string, byte[]>())
        {
            config.AddModelData(file, bytes);
        }
        config.ClearProviders();
        if (intraOpThreads is { } threads)
        {
            config.Overlay(new JsonObject { ["model"] = new JsonObject { ["decoder"] = new JsonObject { ["session_options"] = new JsonObject { ["intra_op_num_threads"] = threads } } } }.ToJsonString());
        }
        if (device != "cpu")
        {
            // Only a build with -p:ExecutionProvider=cuda ships the provider library; the CPU build fails here with
            // ONNX Runtime GenAI's own message naming the missing library.
            config.AppendProvider(device);
        }
        var model = new Model(config);
        return new LoadedModel(folder, model, new Tokenizer(model), maxModelLength ?? folder.ContextLength);
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

    public SequenceGenerator CreateGenerator()
    {
        var generator = new SequenceGenerator(_model, MaxModelLength, Folder.VocabSize, () => Interlocked.Decrement(ref _liveGenerators));
        Interlocked.Increment(ref _liveGenerators);
        return generator;
    }

    public void Dispose()
    {
        _tokenizer.Dispose();
        _model.Dispose();
    }
}
