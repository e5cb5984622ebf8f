using System.Text.Json;

namespace MetricsContract;

/// <summary>
/// --custom-histogram-buckets, as vLLM's ObservabilityConfig.custom_histogram_buckets takes it (PR #48867): a JSON
/// object from vLLM's family keys to bounds, each key replacing the buckets of every family that shares that list.
/// Bounds must be positive, finite and strictly increasing; an unknown key or a bad list refuses to start, naming it.
/// </summary>
public static class CustomHistogramBuckets
{
    /// <summary>vLLM's keys and the bucket lists they stand for.</summary>
    public static readonly IReadOnlyDictionary<string, Buckets> Keys = new Dictionary<string, Buckets>(StringComparer.Ordinal)
    {
        ["request_latency"] = Buckets.RequestLatency,
        ["time_to_first_token"] = Buckets.TimeToFirstToken,
        ["inter_token_latency"] = Buckets.InterTokenLatency,
        ["iteration_tokens"] = Buckets.IterationTokens,
        ["request_params_n"] = Buckets.ParamsN,
        ["request_tokens"] = Buckets.OneTwoFive,
        ["kv_cache_residency"] = Buckets.KvBlockResidency,
        ["request_num_preemptions"] = Buckets.Preemptions,
    };

    /// <exception cref="InvalidOperationException">The JSON, a key or a list is wrong; the message names it.</exception>
    public static Dictionary<Buckets, double[]> Parse(string json)
    {
        InvalidOperationException Invalid(string why) => new($"--custom-histogram-buckets is invalid: {why}.");
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            throw Invalid($"it is not valid JSON ({e.Message})");
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("it must be a JSON object of family keys to bounds");
        }
        var custom = new Dictionary<Buckets, double[]>();
        foreach (var property in root.EnumerateObject())
        {
            if (!Keys.TryGetValue(property.Name, out var buckets))
            {
                throw Invalid($"unknown key \"{property.Name}\" (the keys are {string.Join(", ", Keys.Keys)})");
            }
            if (property.Value.ValueKind != JsonValueKind.Array || property.Value.GetArrayLength() == 0
                || property.Value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
            {
                throw Invalid($"\"{property.Name}\" must be a non-empty list of numbers");
            }
            var bounds = property.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();
            if (bounds.Any(b => !double.IsFinite(b) || b <= 0))
            {
                throw Invalid($"\"{property.Name}\" has a bound that is not positive and finite");
            }
            if (bounds.Zip(bounds.Skip(1)).Any(pair => pair.Second <= pair.First))
            {
                throw Invalid($"\"{property.Name}\" is not strictly increasing");
            }
            custom[buckets] = bounds;
        }
        return custom;
    }
}
