using Worker.Runner;

namespace Worker.Engine;

/// <summary>How many KV blocks the engine may hand out, and what each costs in memory.</summary>
public sealed record KvCacheConfig(
    int BlockSize,
    int TotalBlocks,
    long BytesPerBlock,
    long MemoryBytes,
    bool PrefixCaching,
    bool SharedBuffer,
    int MaxModelLength,
    int? BlocksOverride,
    double GpuMemoryUtilization)
{
    /// <summary>float32 KV, as the CPU models are exported.</summary>
    public const int CacheDtypeBytes = 4;

    public const string CacheDtype = "float32";

    /// <summary>
    /// Blocks from a memory budget: 2 (key and value) × layers × KV heads × head size × dtype size × block size
    /// bytes per block, read from the model's genai_config.json. An explicit block count overrides the budget.
    /// </summary>
    /// <param name="draft">A draft model for speculative decoding: every token also sits in its cache, so a block costs both.</param>
    public static KvCacheConfig Create(ModelFolder model, int maxModelLength, int blockSize, long memoryBytes, int? blocksOverride, bool prefixCaching,
        double gpuMemoryUtilization = 0.9, ModelFolder? draft = null)
    {
        var bytesPerBlock = (KvBytesPerToken(model) + (draft is null ? 0 : KvBytesPerToken(draft))) * blockSize;
        var totalBlocks = blocksOverride ?? (int)Math.Min(int.MaxValue, memoryBytes / bytesPerBlock);
        var config = new KvCacheConfig(blockSize, totalBlocks, bytesPerBlock, memoryBytes, prefixCaching, model.SharesPastPresentBuffer,
            maxModelLength, blocksOverride, gpuMemoryUtilization);
        var longest = (maxModelLength + blockSize - 1) / blockSize;
        if (totalBlocks < longest)
        {
            throw new InvalidOperationException(
                $"The KV cache has {totalBlocks} blocks of {blockSize} tokens ({totalBlocks * (long)blockSize} tokens, {bytesPerBlock} bytes per block), " +
                $"fewer than one sequence of --max-model-len {maxModelLength} needs ({longest} blocks). " +
                "Raise --kv-cache-memory-bytes (or --num-gpu-blocks-override) or lower --max-model-len.");
        }
        return config;
    }

    private static long KvBytesPerToken(ModelFolder model) => 2L * model.Layers * model.KvHeads * model.HeadSize * CacheDtypeBytes;
}
