using System.Globalization;
using Worker.Engine;

namespace Worker.Api;

/// <summary>
/// Timing of one response from its finished sequences' lifecycle stamps (--enable-per-request-metrics):
/// queue = first scheduled − queued (the longest wait among the sequences); time to first token = first token −
/// arrival; generation = last token − first token; mean ITL = generation ÷ (tokens − 1) over all sequences;
/// tokens per second = output tokens ÷ (last token − arrival).
/// </summary>
internal sealed record PerRequestMetrics(double QueueMs, double TimeToFirstTokenMs, double GenerationMs, double MeanItlMs, double TokensPerSecond,
    object? SpeculativeDecoding, KvTransferSummary? KvTransfer = null, string? LoraAdapter = null)
{
    /// <param name="loraAdapter">The LoRA adapter the request ran under; null for the base model.</param>
    public static PerRequestMetrics From(RequestArrival arrival, IReadOnlyList<FinishedSequence> sequences, string? loraAdapter = null)
    {
        var firstToken = sequences.Select(s => s.FirstToken).Where(t => t != 0).DefaultIfEmpty(0).Min();
        var lastToken = sequences.Select(s => s.LastToken).DefaultIfEmpty(0).Max();
        var outputTokens = sequences.Sum(s => s.OutputTokens);
        var decodeIntervals = sequences.Sum(s => Math.Max(0, s.OutputTokens - 1));
        var decodeSeconds = sequences.Sum(s => SequenceTimeline.Seconds(s.FirstToken, s.LastToken));
        var endToEnd = SequenceTimeline.Seconds(arrival.Timestamp, lastToken);
        return new PerRequestMetrics(
            QueueMs: sequences.Select(s => SequenceTimeline.Seconds(s.Queued, s.FirstScheduled)).DefaultIfEmpty(0).Max() * 1000,
            TimeToFirstTokenMs: SequenceTimeline.Seconds(arrival.Timestamp, firstToken) * 1000,
            GenerationMs: SequenceTimeline.Seconds(firstToken, lastToken) * 1000,
            MeanItlMs: decodeIntervals == 0 ? 0 : decodeSeconds / decodeIntervals * 1000,
            TokensPerSecond: endToEnd == 0 ? 0 : outputTokens / endToEnd,
            SpeculativeDecoding: Speculation(sequences),
            KvTransfer: KvTransferSummary.Of(sequences),
            LoraAdapter: loraAdapter);
    }

    /// <summary>vLLM's per-request spec-decode statistics (PR #48915's shape), over the response's sequences.</summary>
    private static object? Speculation(IReadOnlyList<FinishedSequence> sequences)
    {
        var rounds = sequences.Sum(s => s.SpeculationRounds);
        if (rounds == 0)
        {
            return null;
        }
        var draftTokens = sequences.Sum(s => s.DraftTokens);
        var accepted = sequences.Sum(s => s.AcceptedTokens);
        var positions = sequences.Max(s => s.AcceptedAtPosition.Count);
        return new
        {
            num_spec_steps = rounds,
            num_draft_tokens = draftTokens,
            num_accepted_tokens = accepted,
            draft_acceptance_rate = draftTokens == 0 ? 0 : Math.Round((double)accepted / draftTokens, 4),
            mean_acceptance_length = Math.Round(1 + (double)accepted / rounds, 4),
            accepted_per_position = Enumerable.Range(0, positions)
                .Select(p => sequences.Sum(s => p < s.AcceptedAtPosition.Count ? s.AcceptedAtPosition[p] : 0)).ToArray(),
        };
    }

    public Dictionary<string, object?> ToBody()
    {
        var body = new Dictionary<string, object?>
        {
            ["time_to_first_token_ms"] = Math.Round(TimeToFirstTokenMs, 3),
            ["generation_time_ms"] = Math.Round(GenerationMs, 3),
            ["queue_time_ms"] = Math.Round(QueueMs, 3),
            ["mean_itl_ms"] = Math.Round(MeanItlMs, 3),
            ["tokens_per_second"] = Math.Round(TokensPerSecond, 3),
        };
        if (LoraAdapter is not null)
        {
            body["lora_adapter"] = LoraAdapter;
        }
        if (SpeculativeDecoding is not null)
        {
            body["speculative_decoding"] = SpeculativeDecoding;
        }
        if (KvTransfer is { } transfer)
        {
            body["kv_transfer"] = new
            {
                external_prompt_tokens = transfer.ExternalPromptTokens,
                bytes = transfer.Bytes,
                transfer_ms = Math.Round(transfer.TransferMs, 3),
            };
        }
        return body;
    }

    /// <summary>The W3C Server-Timing header: browsers' and proxies' tools show it without parsing the body.</summary>
    public string ToServerTiming() => string.Create(CultureInfo.InvariantCulture,
        $"queue;dur={QueueMs:F3}, ttft;dur={TimeToFirstTokenMs:F3}, generation;dur={GenerationMs:F3}, itl;dur={MeanItlMs:F3}")
        + (KvTransfer is null ? "" : string.Create(CultureInfo.InvariantCulture, $", kv_transfer;dur={KvTransfer.TransferMs:F3}"));
}

/// <summary>The prompt KV a response's sequences read from a prefill worker (P/D): tokens, bytes and the reads' duration.</summary>
internal sealed record KvTransferSummary(int ExternalPromptTokens, long Bytes, double TransferMs)
{
    public static KvTransferSummary? Of(IReadOnlyList<FinishedSequence> sequences) =>
        sequences.All(s => s.KvTransfer is null) ? null : new KvTransferSummary(
            sequences.Sum(s => s.ExternalPromptTokens), sequences.Sum(s => s.KvTransfer?.Bytes ?? 0), sequences.Sum(s => s.KvTransfer?.Seconds ?? 0) * 1000);
}
