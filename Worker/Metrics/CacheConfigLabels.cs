using System.Globalization;
using ServiceDefaults.Metrics;
using Worker.Engine;
using MetricsContract;

namespace Worker.Metrics;

/// <summary>
/// vllm:cache_config_info's labels: every CacheConfig attribute vLLM exposes, stringified as Python prints them
/// (True/False/None), filled from this engine's configuration; attributes of features this engine lacks
/// (Mamba, offloading, sliding windows) read as vLLM prints them when unused.
/// </summary>
internal static class CacheConfigLabels
{
    public static KeyValuePair<string, object?>[] For(KvCacheConfig config, MetricsPolicy policy)
    {
        var values = new Dictionary<string, string>
        {
            ["block_size"] = Int(config.BlockSize),
            ["user_specified_block_size"] = "True",
            ["user_specified_mamba_block_size"] = "False",
            ["prefix_match_unit"] = Int(config.BlockSize),
            ["gpu_memory_utilization"] = config.GpuMemoryUtilization.ToString("0.0###", CultureInfo.InvariantCulture),
            ["cache_dtype"] = "auto",
            ["is_attention_free"] = "False",
            ["num_gpu_blocks_override"] = config.BlocksOverride is { } blocks ? Int(blocks) : "None",
            ["sliding_window"] = "None",
            ["enable_prefix_caching"] = config.PrefixCaching ? "True" : "False",
            ["prefix_caching_hash_algo"] = "sha256",
            ["prefix_cache_retention_interval"] = "None",
            ["kv_cache_dtype_skip_layers"] = "[]",
            ["mamba_page_size_padded"] = "None",
            ["skip_page_size_padded"] = "None",
            ["mamba_block_size"] = "None",
            ["mamba_cache_dtype"] = "auto",
            ["mamba_ssm_cache_dtype"] = "auto",
            ["mamba_cache_mode"] = "none",
            ["replayssm_buffer_len"] = "None",
            ["use_replayssm"] = "False",
            ["use_kda_recoverssm"] = "False",
            ["num_gpu_blocks"] = Int(config.TotalBlocks),
            ["num_cpu_blocks"] = "None",
            ["kv_cache_size_tokens"] = Int((long)config.TotalBlocks * config.BlockSize),
            ["kv_cache_max_concurrency"] = (config.TotalBlocks / (double)((config.MaxModelLength + config.BlockSize - 1) / config.BlockSize)).ToString("0.00", CultureInfo.InvariantCulture),
            ["kv_sharing_fast_prefill"] = "False",
            ["kv_cache_memory_bytes"] = Int(config.MemoryBytes),
            ["kv_offloading_size"] = "None",
            ["kv_offloading_backend"] = "native",
            ["_block_size_resolved"] = "True",
            [MetricCatalog.Engine] = VllmMetrics.EngineIndex,
        };
        return MetricCatalog.CacheConfigInfo.Labels.Select(label => new KeyValuePair<string, object?>(label, values[label])).ToArray();
    }

    private static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);
}
