namespace Worker.Engine;

/// <summary>
/// A sequence as it ended, frozen by the engine when it ended it and carried on its last output: what the API reports
/// (per-request metrics, spans, the finish log line) without reading the engine's live objects after the fact.
/// Timestamps are <see cref="System.Diagnostics.Stopwatch"/> ticks, 0 where the event never happened.
/// </summary>
public sealed record FinishedSequence(
    string RequestId,
    int Index,
    FinishReason Finish,
    int PromptTokens,
    int CachedPromptTokens,
    int OutputTokens,
    long Queued,
    long FirstScheduled,
    long FirstToken,
    long LastToken,
    int Preemptions,
    int SpeculationRounds,
    long DraftTokens,
    long AcceptedTokens,
    IReadOnlyList<long> AcceptedAtPosition,
    int ExternalPromptTokens = 0,
    KvTransferTiming? KvTransfer = null,
    IReadOnlyDictionary<string, object?>? HeldKv = null)
{
    internal static FinishedSequence Of(Sequence sequence)
    {
        var t = sequence.Timeline;
        var speculation = sequence.Speculation;
        return new FinishedSequence(sequence.Request.Id, sequence.Index, sequence.Finish!.Value, sequence.Request.PromptTokens.Length,
            sequence.CachedPromptTokens, sequence.OutputTokenCount, t.Queued, t.FirstScheduled, t.FirstToken, t.LastToken, t.Preemptions.Count,
            speculation.Rounds, speculation.DraftTokens, speculation.AcceptedTokens, speculation.AcceptedAtPosition.ToArray(),
            sequence.ExternalPromptTokens, sequence.KvTransfer, sequence.HeldKv);
    }
}
