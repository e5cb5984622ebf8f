using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Gateway.Routing;

/// <summary>
/// A worker's load as it reported it: the model-server protocol's three signals, when they were read, and from its
/// /metrics also its LoRA adapters and its base model's name (the model_name label), which in-band reports lack; and
/// the prompt tokens its waiting requests must still compute (vellum_num_uncached_tokens_waiting), shown, not yet weighed.
/// </summary>
public sealed record WorkerLoad(double Waiting, double Running, double KvCacheUsage, long ReadAt, WorkerLoras? Loras = null, string? BaseModel = null,
    double UncachedTokensWaiting = 0)
{
    /// <summary>
    /// What a new request would wait behind: a waiting request costs a whole turn, a running one a share of each step,
    /// a nearly full KV cache preemptions to come; requests the gateway sent since the reading are not in it yet.
    /// </summary>
    public double Cost(int sentSinceReading) => 4 * Waiting + Running + 8 * KvCacheUsage + sentSinceReading;
}

/// <summary>
/// The latest load of each worker (by its address), from the poller and from the endpoint-load-metrics headers of
/// its answers, with the gateway's in-flight count at that moment (what was sent after is added to its cost).
/// </summary>
public sealed class WorkerLoads(IOptions<RoutingOptions> options)
{
    private readonly ConcurrentDictionary<string, (WorkerLoad Load, int InFlight)> _loads = new();

    /// <summary>A newer reading replaces the older; one without LoRA or model details (an in-band report) keeps the last known.</summary>
    public void Report(string address, WorkerLoad load, int inFlight) =>
        _loads.AddOrUpdate(address, (load, inFlight), (_, old) => old.Load.ReadAt > load.ReadAt ? old
            : (load with { Loras = load.Loras ?? old.Load.Loras, BaseModel = load.BaseModel ?? old.Load.BaseModel }, inFlight));

    /// <summary>
    /// The worker's cost for one more request for <paramref name="model"/>, or null when its reading is missing or stale.
    /// A request for a LoRA adapter (a model that is not the worker's base) adds LoraAffinityWeight × (1 − GAIE's
    /// affinity score): nothing where the adapter runs or is resident, a fifth of it where a slot is free.
    /// </summary>
    public double? Cost(string address, int inFlightNow, string? model = null)
    {
        if (!_loads.TryGetValue(address, out var entry) || Stopwatch.GetElapsedTime(entry.Load.ReadAt) > options.Value.StaleAfter)
        {
            return null;
        }
        var load = entry.Load;
        var lora = model is not null && load.Loras is { } loras && model != load.BaseModel
            ? options.Value.LoraAffinityWeight * (1 - loras.Affinity(model))
            : 0;
        return load.Cost(Math.Max(0, inFlightNow - entry.InFlight)) + lora;
    }

    /// <summary>Each worker's latest reading, its age and whether it is still trusted: what routing decides on now.</summary>
    public IEnumerable<WorkerReading> Readings() => _loads.Select(entry =>
    {
        var age = Stopwatch.GetElapsedTime(entry.Value.Load.ReadAt);
        var loras = entry.Value.Load.Loras;
        return new WorkerReading(entry.Key, entry.Value.Load.Waiting, entry.Value.Load.Running, entry.Value.Load.KvCacheUsage,
            age.TotalMilliseconds, Stale: age > options.Value.StaleAfter, loras?.Running.Order().ToArray(), loras?.Resident.Order().ToArray(),
            entry.Value.Load.UncachedTokensWaiting);
    }).OrderBy(reading => reading.Address, StringComparer.Ordinal);

    /// <summary>Whether a fresh reading says the worker is saturated (queue or KV cache past the thresholds).</summary>
    public bool IsSaturated(string address) =>
        _loads.TryGetValue(address, out var entry) && Stopwatch.GetElapsedTime(entry.Load.ReadAt) <= options.Value.StaleAfter
        && (entry.Load.Waiting > options.Value.SaturatedWaiting || entry.Load.KvCacheUsage > options.Value.SaturatedKvCacheUsage);
}

/// <summary>One worker's load as the gateway last read it (GET /routing/loads).</summary>
public sealed record WorkerReading(string Address, double Waiting, double Running, double KvCacheUsage, double AgeMs, bool Stale,
    IReadOnlyList<string>? RunningLoraAdapters = null, IReadOnlyList<string>? ResidentLoraAdapters = null, double UncachedTokensWaiting = 0);
