using System.Diagnostics;
using Worker.Engine;

namespace Worker.Api;

/// <summary>
/// Child spans of a request's server span for the phases the engine stamped: queue (queued → first scheduled),
/// prefill (first scheduled → first token) and decode (first token → last token), one set per sequence. They
/// are written once the request is done, from the monotonic stamps placed on the request's wall-clock arrival.
/// </summary>
internal static class RequestSpans
{
    /// <summary>Named after the application, which ServiceDefaults traces.</summary>
    public static readonly ActivitySource Source = new("Worker");

    /// <param name="finished">The requests' sequences that ended, as the engine froze them.</param>
    public static void Record(IReadOnlyList<EngineRequest> requests, IEnumerable<FinishedSequence> finished)
    {
        foreach (var sequence in finished)
        {
            var request = requests.First(r => r.Id == sequence.RequestId);
            if (request.Trace is not { } parent || !Source.HasListeners())
            {
                continue;
            }
            Phase("queue", parent, request, sequence, sequence.Queued, sequence.FirstScheduled);
            Phase("prefill", parent, request, sequence, sequence.FirstScheduled, sequence.FirstToken)?.SetTag("gen_ai.usage.input_tokens", sequence.PromptTokens)
                .SetTag("vellum.cached_prompt_tokens", sequence.CachedPromptTokens);
            Phase("decode", parent, request, sequence, sequence.FirstToken, sequence.LastToken)?.SetTag("gen_ai.usage.output_tokens", sequence.OutputTokens)
                .SetTag("vellum.preemptions", sequence.Preemptions);
        }
    }

    private static Activity? Phase(string name, Activity parent, EngineRequest request, FinishedSequence sequence, long from, long to)
    {
        if (from == 0 || to == 0)
        {
            return null;
        }
        var activity = Source.StartActivity(name, ActivityKind.Internal, parent.Context, startTime: At(request, from));
        if (activity is null)
        {
            return null;
        }
        activity.SetTag("request_id", request.Id).SetTag("vellum.sequence", sequence.Index);
        activity.SetEndTime(At(request, to).UtcDateTime);
        activity.Stop();
        return activity;
    }

    private static DateTimeOffset At(EngineRequest request, long timestamp) =>
        request.Arrival.WallClock + Stopwatch.GetElapsedTime(request.Arrival.Timestamp, timestamp);
}
