using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Worker.Runner;

/// <summary>
/// A model folder's decoder in an ONNX Runtime session, checked against the contract ONNX Runtime GenAI's model
/// builder emits (input_ids, attention_mask, optional position_ids, past_key_values.N.key|value → logits,
/// present.N.key|value, GroupQueryAttention inside). A folder that does not follow it is refused here, at start-up.
/// </summary>
internal sealed class OnnxDecoder : IDisposable
{
    private readonly RunOptions _runOptions = new();

    /// <param name="modelBytes">The decoder file already in memory (a wake-up from sleep level 1).</param>
    public OnnxDecoder(ModelFolder folder, string device, int? intraOpThreads, byte[]? modelBytes = null)
    {
        Folder = folder;
        Device = device;
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (intraOpThreads is { } threads)
        {
            options.IntraOpNumThreads = threads;
        }
        if (device == "cuda")
        {
            options.AppendExecutionProvider_CUDA(0);
        }
        var path = Path.Combine(folder.Path, folder.DecoderFile);
        Session = OnNamedThread(() => modelBytes is null ? new InferenceSession(path, options) : new InferenceSession(modelBytes, options));

        var inputs = Session.InputMetadata;
        string[] required = ["input_ids", "attention_mask", "past_key_values.0.key", "past_key_values.0.value"];
        var missing = required.FirstOrDefault(name => !inputs.ContainsKey(name));
        if (missing is not null || !Session.OutputMetadata.ContainsKey("logits"))
        {
            Session.Dispose();
            throw new InvalidOperationException(
                $"'{path}' is not a decoder the batched runner can drive: it lacks {missing ?? "the logits output"}. It drives the GroupQueryAttention " +
                "decoder ONNX Runtime GenAI's model builder emits (input_ids, attention_mask, past_key_values.N.key|value → logits, present.N.key|value).");
        }
        HasPositionIds = inputs.ContainsKey("position_ids");
        KvType = inputs["past_key_values.0.key"].ElementDataType;
        KvElementBytes = KvType switch
        {
            TensorElementType.Float => 4,
            TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
            var other => throw new InvalidOperationException($"'{path}' keeps its KV cache as {other}; the runner handles float32, float16 and bfloat16."),
        };
        PastKeys = Names("past_key_values.{0}.key");
        PastValues = Names("past_key_values.{0}.value");
        PresentKeys = Names("present.{0}.key");
        PresentValues = Names("present.{0}.value");
        var logits = Session.OutputMetadata["logits"];
        var logitsElement = logits.ElementDataType;
        LogitsType = logitsElement is TensorElementType.Float or TensorElementType.Float16
            ? logitsElement
            : throw new InvalidOperationException($"'{path}' returns its logits as {logitsElement}; the runner reads float32 and float16.");
        LogitsPerPosition = logits.Dimensions.Length == 3 && logits.Dimensions[1] != 1;
        // A LoRA-ready export's adapter weights are overridable initializers (graph inputs with a zero-rank default).
        LoraInputs = inputs.Concat(Session.OverridableInitializerMetadata).Where(input => input.Key.Contains(".lora_A.", StringComparison.Ordinal) || input.Key.Contains(".lora_B.", StringComparison.Ordinal))
            .ToDictionary(input => input.Key, input => new LoraInput(input.Value.Dimensions.Select(d => (long)d).ToArray(), input.Value.ElementDataType));
        ModelVersion = Session.ModelMetadata.Version;
    }

    public ModelFolder Folder { get; }

    public string Device { get; }

    public InferenceSession Session { get; }

    public bool HasPositionIds { get; }

    public TensorElementType KvType { get; }

    /// <summary>Bytes per KV element, from the model: 4 for float32 exports, 2 for the float16 ones GPU builds use.</summary>
    public int KvElementBytes { get; }

    public string[] PastKeys { get; }

    public string[] PastValues { get; }

    public string[] PresentKeys { get; }

    public string[] PresentValues { get; }

    public TensorElementType LogitsType { get; }

    /// <summary>Logits for every fed position (GenAI's exports), not only the last: what prefill chunks of several rows and verification need.</summary>
    public bool LogitsPerPosition { get; }

    /// <summary>The LoRA weights the graph takes as inputs (a LoRA-ready export), with their shapes (-1: the rank) and types.</summary>
    public IReadOnlyDictionary<string, LoraInput> LoraInputs { get; }

    /// <summary>ModelProto.model_version: the base's identity that adapters exported for it carry.</summary>
    public long ModelVersion { get; }

    /// <summary>An arena in the memory this decoder runs on: host memory committed as written, or device memory.</summary>
    public KvArena CreateArena(int slots, int capacity) =>
        new(Device == "cuda" ? new CudaKvMemory(0) : new HostKvMemory(), Folder.Layers, Folder.KvHeads, Folder.HeadSize, KvElementBytes, slots, capacity);

    /// <summary>Time spent inside ONNX Runtime's runs so far, in Stopwatch ticks: the forward passes without row building or binding.</summary>
    public long RunTicks { get; private set; }

    /// <summary>
    /// One forward pass into preallocated outputs (the KV arena in place, the logits). Session.Run, not an IOBinding run:
    /// ONNX Runtime applies the active LoRA adapters of the run options only there (an IOBinding run ignores them).
    /// </summary>
    /// <param name="adapter">Run options activating an adapter; null runs the base model.</param>
    public void Run(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames,
        IReadOnlyCollection<OrtValue> outputs, RunOptions? adapter = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Session.Run(adapter ?? _runOptions, inputNames, inputs, outputNames, outputs);
        RunTicks += System.Diagnostics.Stopwatch.GetTimestamp() - started;
    }

    /// <summary>
    /// Creates the session on a thread named "onnxruntime": ONNX Runtime's intra-op threads, started with the session,
    /// take their creator's name, so top -H and /proc tell them from the server's own threads (not ".NET TP Worker").
    /// </summary>
    private static InferenceSession OnNamedThread(Func<InferenceSession> create)
    {
        InferenceSession? session = null;
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                session = create();
            }
            catch (Exception e)
            {
                failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            }
        }) { Name = "onnxruntime" };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return session!;
    }

    private string[] Names(string format) =>
        Enumerable.Range(0, Folder.Layers).Select(l => string.Format(System.Globalization.CultureInfo.InvariantCulture, format, l)).ToArray();

    public void Dispose()
    {
        Session.Dispose();
        _runOptions.Dispose();
    }
}

/// <summary>A LoRA weight the decoder's graph takes: its shape (-1 where the rank goes) and element type (ONNX's numbering).</summary>
internal sealed record LoraInput(long[] Dims, TensorElementType Type);
