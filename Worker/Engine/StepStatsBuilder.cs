using System.Diagnostics;

namespace Worker.Engine;

/// <summary>
/// Collects what happens during one turn of the engine loop (aborts taken, the step run) from the sequences'
/// own stamps, and turns it into a <see cref="StepStats"/>. Each interval names its two events at its subtraction.
/// </summary>
internal sealed class StepStatsBuilder
{
    private readonly List<GeneratedTokens> _generated = [];
    private readonly List<FirstTokenStats> _firstTokens = [];
    private readonly List<TokenLatency> _latencies = [];
    private readonly List<FinishedSequenceStats> _finished = [];
    private readonly List<FinishedRequestStats> _finishedRequests = [];
    private readonly List<ForwardPass> _forwardPasses = [];
    private readonly List<SpeculativeRoundStats> _speculativeRounds = [];
    private readonly List<double> _grammarMasks = [];
    private int _iterationTokens;
    private int _promptTokensComputed;

    public bool IsEmpty => _generated.Count == 0 && _finished.Count == 0 && _forwardPasses.Count == 0 && _firstTokens.Count == 0;

    public void ForwardPass(int tokensFed, int contextLength) => _forwardPasses.Add(new ForwardPass(tokensFed, contextLength));

    public void SpeculativeRound(Sequence sequence, int proposed, int accepted, double draftSeconds, double verifySeconds) =>
        _speculativeRounds.Add(new SpeculativeRoundStats(sequence.Request.Id, sequence.Request.Trace, proposed, accepted, draftSeconds, verifySeconds));

    /// <summary>A constrained row's time masking its logits by its grammar in this step.</summary>
    public void GrammarMasked(double seconds) => _grammarMasks.Add(seconds);

    /// <summary>
    /// The step gave the sequence <paramref name="sampled"/> tokens; on its first output its prompt (less what the
    /// prefix cache served) counts too, as vLLM counts a prompt in the iteration that finishes its prefill, however
    /// many chunks it took. Recomputation after preemption is not counted again.
    /// </summary>
    public void TokensComputed(Sequence sequence, int sampled) =>
        _iterationTokens += sampled + (sequence.HasOutput ? 0 : sequence.Request.PromptTokens.Length - sequence.CachedPromptTokens);

    /// <summary><paramref name="count"/> of the sequence's output tokens count as generated (vllm:generation_tokens).</summary>
    public void TokensGenerated(Sequence sequence, int count) =>
        _generated.Add(new GeneratedTokens(sequence.Request.Id, sequence.Request.Trace, count));

    /// <summary>
    /// A step gave the sequence an output at <paramref name="now"/>: its first token, or the next ones; call before the
    /// timeline is updated with it. Like vLLM, the inter-token latency is observed once per engine output, however many
    /// tokens it carries.
    /// </summary>
    public void OutputEmitted(Sequence sequence, long now)
    {
        var timeline = sequence.Timeline;
        if (timeline.FirstToken == 0)
        {
            var prompt = sequence.Request.PromptTokens.Length;
            _promptTokensComputed += prompt - sequence.CachedPromptTokens;
            // TTFT: arrival (API, before tokenization) → first token.
            _firstTokens.Add(new FirstTokenStats(sequence.Request.Id, sequence.Request.Trace, Seconds(sequence.Request.Arrival.Timestamp, now), prompt,
                sequence.CachedPromptTokens, sequence.ExternalPromptTokens));
        }
        else
        {
            // ITL: previous token → this token.
            _latencies.Add(new TokenLatency(sequence.Request.Id, sequence.Request.Trace, Seconds(timeline.LastToken, now)));
        }
    }

    public void SequenceFinished(Sequence sequence, long now)
    {
        var t = sequence.Timeline;
        var generated = sequence.OutputTokenCount;
        double? Between(long from, long to) => from != 0 && to != 0 ? Seconds(from, to) : null;
        var decode = Between(t.FirstToken, t.LastToken);                                // first token → last token
        _finished.Add(new FinishedSequenceStats(
            sequence.Request.Id,
            sequence.Request.Trace,
            sequence.Finish!.Value,
            EndToEnd: Seconds(sequence.Request.Arrival.Timestamp, t.LastToken != 0 ? t.LastToken : now), // arrival → final output
            Queue: Between(t.Queued, t.FirstScheduled),                                  // queued → first scheduled
            Prefill: Between(t.FirstScheduled, t.FirstToken),                            // first scheduled → first token
            Decode: decode,
            Inference: Between(t.FirstScheduled, t.LastToken),                           // first scheduled → last token
            TimePerOutputToken: generated > 1 && decode is { } d ? d / (generated - 1) : 0,
            PromptTokens: sequence.Request.PromptTokens.Length,
            GenerationTokens: generated,
            CachedPromptTokens: sequence.CachedPromptTokens,
            MaxTokens: sequence.Request.Parameters.MaxTokens,
            Preemptions: t.Preemptions.Count,
            Corrupted: sequence.SawNaN));
        if (sequence.Request.IsFinished)
        {
            _finishedRequests.Add(new FinishedRequestStats(sequence.Request.Id, sequence.Request.Trace, sequence.Request.Parameters.N, sequence.Request.Sequences.Max(s => s.OutputTokenCount)));
        }
    }

    /// <param name="connector">The KV connector's counts; null when none is configured.</param>
    public StepStats Build(long now, SchedulerStepCounts scheduled, KvConnectorCounts? connector, IReadOnlyList<KvBlockEvent> kvBlockEvents)
    {
        var stats = new StepStats(now, _iterationTokens, _promptTokensComputed, scheduled.PrefixQueries, scheduled.PrefixHits, scheduled.Preemptions,
            _generated.ToArray(), _firstTokens.ToArray(), _latencies.ToArray(), _finished.ToArray(), _finishedRequests.ToArray(), _forwardPasses.ToArray(), kvBlockEvents,
            _speculativeRounds.ToArray(), scheduled.ExternalPrefixQueries, scheduled.ExternalPrefixHits,
            connector is null ? null : new KvConnectorStats(connector.Reads.ToArray(), connector.FailedTransfers, connector.FailedNotifications, connector.ExpiredRequests))
        {
            GrammarMaskSeconds = _grammarMasks.ToArray(),
        };
        _grammarMasks.Clear();
        _speculativeRounds.Clear();
        _generated.Clear();
        _firstTokens.Clear();
        _latencies.Clear();
        _finished.Clear();
        _finishedRequests.Clear();
        _forwardPasses.Clear();
        _iterationTokens = 0;
        _promptTokensComputed = 0;
        return stats;
    }

    private static double Seconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalSeconds;
}
