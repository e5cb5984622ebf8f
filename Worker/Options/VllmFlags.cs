namespace Worker.Options;

/// <summary>
/// Translates vLLM's command-line flags into configuration keys, so that <c>--max-num-seqs 8</c>,
/// <c>--max-num-seqs=8</c>, <c>Worker__MaxNumSeqs=8</c> and appsettings.json all set the same option.
/// Serving flags land in section "Worker", metric flags in "Metrics" (read by ServiceDefaults).
/// Anything else (ASP.NET Core's own <c>--urls</c>, <c>--Worker:Key value</c>) passes through unchanged.
/// </summary>
public static class VllmFlags
{
    private static readonly Dictionary<string, string> ValueFlags = new(StringComparer.Ordinal)
    {
        ["--model"] = "Worker:Model",
        ["--device"] = "Worker:Device",
        ["--max-num-seqs"] = "Worker:MaxNumSeqs",
        ["--max-model-len"] = "Worker:MaxModelLen",
        ["--max-num-batched-tokens"] = "Worker:MaxNumBatchedTokens",
        ["--long-prefill-token-threshold"] = "Worker:LongPrefillTokenThreshold",
        ["--download-dir"] = "Worker:DownloadDir",
        ["--block-size"] = "Worker:BlockSize",
        ["--kv-cache-memory-bytes"] = "Worker:KvCacheMemoryBytes",
        ["--gpu-memory-utilization"] = "Worker:GpuMemoryUtilization",
        ["--num-gpu-blocks-override"] = "Worker:NumGpuBlocksOverride",
        ["--max-num-queued-requests"] = "Worker:MaxNumQueuedRequests",
        ["--max-num-queued-tokens"] = "Worker:MaxNumQueuedTokens",
        ["--request-timeout"] = "Worker:RequestTimeout",
        ["--max-sequences-per-request"] = "Worker:MaxSequencesPerRequest",
        ["--max-stop-sequences"] = "Worker:MaxStopSequences",
        ["--max-stop-sequence-length"] = "Worker:MaxStopSequenceLength",
        ["--max-stop-token-ids"] = "Worker:MaxStopTokenIds",
        ["--max-logprobs"] = "Worker:MaxLogprobs",
        ["--logprobs-mode"] = "Worker:LogprobsMode",
        ["--intra-op-threads"] = "Worker:IntraOpThreads",
        ["--speculative-config"] = "Worker:SpeculativeConfig",
        ["--kv-transfer-config"] = "Worker:KvTransferConfig",
        ["--structured-outputs-config"] = "Worker:StructuredOutputsConfig",
        ["--max-loras"] = "Worker:MaxLoras",
        ["--max-lora-rank"] = "Worker:MaxLoraRank",
        ["--max-cpu-loras"] = "Worker:MaxCpuLoras",
        ["--kv-cache-metrics-sample"] = "Metrics:KvCacheMetricsSample",
        ["--show-hidden-metrics-for-version"] = "Metrics:ShowHiddenMetricsForVersion",
        ["--custom-histogram-buckets"] = "Metrics:CustomHistogramBuckets",
    };

    /// <summary>Flags that take one or more values, as vLLM's nargs="+".</summary>
    private static readonly Dictionary<string, string> ListFlags = new(StringComparer.Ordinal)
    {
        ["--served-model-name"] = "Worker:ServedModelName",
        ["--lora-modules"] = "Worker:LoraModules",
    };

    /// <summary>Flags that are true when present; <c>--no-flag</c> or <c>--flag=false</c> turn them off.</summary>
    private static readonly Dictionary<string, string> BooleanFlags = new(StringComparer.Ordinal)
    {
        ["--enable-prefix-caching"] = "Worker:EnablePrefixCaching",
        ["--enable-chunked-prefill"] = "Worker:EnableChunkedPrefill",
        ["--enable-per-request-metrics"] = "Worker:EnablePerRequestMetrics",
        ["--enable-lora"] = "Worker:EnableLora",
        ["--disable-log-stats"] = "Metrics:DisableLogStats",
        ["--kv-cache-metrics"] = "Metrics:KvCacheMetrics",
        ["--enable-mfu-metrics"] = "Metrics:EnableMfuMetrics",
        ["--enable-exemplars"] = "Metrics:EnableExemplars",
    };

    public static string[] ToConfigurationArgs(string[] args)
    {
        var result = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var (flag, inlineValue) = Split(args[i]);
            if (ValueFlags.TryGetValue(flag, out var key))
            {
                var value = inlineValue ?? (i + 1 < args.Length ? args[++i] : throw Missing(flag));
                result.Add($"--{key}={value}");
            }
            else if (ListFlags.TryGetValue(flag, out key))
            {
                var values = new List<string>();
                if (inlineValue is not null)
                {
                    values.Add(inlineValue);
                }
                while (inlineValue is null && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    values.Add(args[++i]);
                }
                if (values.Count == 0)
                {
                    throw Missing(flag);
                }
                result.AddRange(values.Select((v, index) => $"--{key}:{index}={v}"));
            }
            else if (BooleanFlags.TryGetValue(flag, out key))
            {
                result.Add($"--{key}={inlineValue ?? "true"}");
            }
            else if (flag.StartsWith("--no-", StringComparison.Ordinal) && BooleanFlags.TryGetValue("--" + flag[5..], out key))
            {
                result.Add($"--{key}=false");
            }
            else
            {
                result.Add(args[i]);
            }
        }
        return result.ToArray();
    }

    private static (string Flag, string? Value) Split(string arg)
    {
        var equals = arg.IndexOf('=');
        return arg.StartsWith("--", StringComparison.Ordinal) && equals > 0 ? (arg[..equals], arg[(equals + 1)..]) : (arg, null);
    }

    private static ArgumentException Missing(string flag) => new($"{flag} needs a value.");
}
