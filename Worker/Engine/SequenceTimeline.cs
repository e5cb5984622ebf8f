using System.Diagnostics;

namespace Worker.Engine;

/// <summary>
/// When things happened to one sequence, as <see cref="Stopwatch"/> timestamps (one monotonic clock for every
/// interval). The engine stamps them; the API and the metrics recorder read them once the sequence has finished.
/// </summary>
public sealed class SequenceTimeline
{
    /// <summary>Handed to the scheduler.</summary>
    public long Queued { get; internal set; }

    /// <summary>First admitted to the running set; later admissions after a preemption do not move it.</summary>
    public long FirstScheduled { get; internal set; }

    public long FirstToken { get; internal set; }

    /// <summary>The latest token so far; the last token once finished.</summary>
    public long LastToken { get; internal set; }

    /// <summary>Each time the sequence was preempted (its cache released, to be recomputed).</summary>
    public List<long> Preemptions { get; } = [];

    public static double Seconds(long from, long to) => from == 0 || to == 0 ? 0 : Stopwatch.GetElapsedTime(from, to).TotalSeconds;
}

/// <summary>When the API started on a request: before parsing and tokenization, as vLLM's arrival_time.</summary>
public sealed record RequestArrival(long Timestamp, DateTimeOffset WallClock)
{
    public static RequestArrival Now() => new(Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow);
}
