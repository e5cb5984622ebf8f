using System.Diagnostics;
using System.Threading.Channels;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// One prompt submitted to the engine, with its <c>n</c> sequences. The API creates it, the engine fills
/// the output channel; the request is done when every sequence has finished.
/// </summary>
public sealed class EngineRequest
{
    public EngineRequest(string id, int[] promptTokens, SamplingParams parameters, RequestArrival arrival, ChannelWriter<SequenceOutput> output, int firstChoice)
    {
        Id = id;
        PromptTokens = promptTokens;
        Parameters = parameters;
        Arrival = arrival;
        Output = output;
        Sequences = Enumerable.Range(0, parameters.N).Select(i => new Sequence(this, i, firstChoice + i)).ToArray();
    }

    public string Id { get; }

    public int[] PromptTokens { get; }

    public SamplingParams Parameters { get; }

    public RequestArrival Arrival { get; }

    /// <summary>The API's span for the request: metrics recorded for it carry its trace as exemplars.</summary>
    public Activity? Trace { get; init; }

    /// <summary>The request's kv_transfer_params (P/D): prefill it for a decode worker, or read its prompt's KV from a prefill worker.</summary>
    public KvTransfer.KvTransferParams? KvTransfer { get; init; }

    /// <summary>The LoRA adapter the request runs under (its <c>model</c> named one); null for the base model.</summary>
    public LoraRequest? Lora { get; init; }

    /// <summary>The adapter's id, 0 for the base: what caches key by, so that no adapter reuses another's KV.</summary>
    internal int LoraId => Lora?.Id ?? 0;

    /// <summary>Read these only after the sequence's finish has arrived on the output channel.</summary>
    public IReadOnlyList<Sequence> Sequences { get; }

    internal ChannelWriter<SequenceOutput> Output { get; }

    public bool IsFinished => Sequences.All(s => s.Finish is not null);

    /// <summary>Someone asked the engine to abort the request (it may not have taken the submission yet).</summary>
    internal bool AbortRequested
    {
        get => _abortRequested;
        set => _abortRequested = value;
    }

    private volatile bool _abortRequested;

    /// <summary>Still counts against the queue limits: some sequence has never been scheduled.</summary>
    internal bool IsQueued => Sequences.Any(s => s.Finish is null && s.Timeline.FirstScheduled == 0);
}
