using MetricsContract;

namespace Gateway.Routing;

/// <summary>
/// A worker's LoRA adapters as it last reported them: the newest series of vllm:lora_requests_info (adapters with
/// requests running, waiting; how many may be resident) and of vellum_lora_resident_info (resident ones, idle included,
/// which vLLM's family drops: vLLM issue #45325).
/// </summary>
public sealed record WorkerLoras(int MaxLoras, IReadOnlySet<string> Running, IReadOnlySet<string> Waiting, IReadOnlySet<string> Resident)
{
    /// <summary>
    /// The Gateway API Inference Extension's LoRA affinity, for a request for <paramref name="adapter"/>: 1.0 where it
    /// runs (here also where it is resident and idle: no swap either way), 0.8 where a slot is free (running and waiting
    /// adapters fewer than max_lora), 0.6 where it already waits, else 0 (it would wait for a running adapter to finish).
    /// </summary>
    public double Affinity(string adapter) =>
        Running.Contains(adapter) || Resident.Contains(adapter) ? 1.0
        : Running.Count + Waiting.Count < MaxLoras ? 0.8
        : Waiting.Contains(adapter) ? 0.6
        : 0;

    /// <summary>What the families say, or null when the worker exposes neither (it serves no adapters).</summary>
    public static WorkerLoras? From(Dictionary<string, Family> families)
    {
        var requests = Newest(families, MetricCatalog.LoraRequestsInfo);
        if (requests is null)
        {
            return null;
        }
        var resident = Newest(families, MetricCatalog.LoraResidentInfo);
        return new WorkerLoras(
            int.TryParse(requests.Labels.GetValueOrDefault("max_lora"), out var max) ? max : 1,
            Names(requests, "running_lora_adapters"), Names(requests, "waiting_lora_adapters"),
            resident is null ? new HashSet<string>() : Names(resident, "resident_lora_adapters"));
    }

    /// <summary>The series set last: the value is the time of its update, as routers read vLLM's info gauge.</summary>
    private static Sample? Newest(Dictionary<string, Family> families, MetricFamily family) =>
        families.TryGetValue(family.ExposedName, out var found) ? found.Samples.MaxBy(s => s.Value) : null;

    private static HashSet<string> Names(Sample sample, string label) =>
        sample.Labels.GetValueOrDefault(label)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal) ?? [];
}
