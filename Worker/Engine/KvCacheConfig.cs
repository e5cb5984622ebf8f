using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// How many KV blocks the engine may hand out, what each costs in memory, and how many KV slots the runner's arena
/// has: one per sequence that may run, plus those that keep finished sequences' caches for prefix reuse.
/// </summary>
/// <param name="SlotsCommitted">
/// The arena's memory is committed in full (device memory): a sequence holds its whole slot whatever it has written,
/// so it is counted as max_model_len tokens. On host memory pages are committed as they are written and a sequence
/// holds the blocks its tokens fill.
/// </param>
public sealed record KvCacheConfig(
    int BlockSize,
    int TotalBlocks,
    long BytesPerBlock,
    long MemoryBytes,
    bool PrefixCaching,
    bool SlotsCommitted,
    int MaxModelLength,
    int? BlocksOverride,
    double GpuMemoryUtilization,
    int DtypeBytes,
    int RunningSlots,
    int PrefixSlots)
{
    /// <summary>
    /// Blocks from a memory budget: 2 (key and value) × layers × KV heads × head size × dtype size × block size
    /// bytes per block, read from the model's genai_config.json and the runner's KV dtype. An explicit block count
    /// overrides the budget.
    /// </summary>
    /// <param name="draft">A draft model for speculative decoding: every token also sits in its cache, so a block costs both.</param>
    public static KvCacheConfig Create(ModelFolder model, int maxModelLength, int blockSize, long memoryBytes, int? blocksOverride, bool prefixCaching,
        int maxNumSeqs = 16, int dtypeBytes = 4, bool slotsCommitted = false, double gpuMemoryUtilization = 0.9, ModelFolder? draft = null)
    {
        var bytesPerBlock = (KvBytesPerToken(model, dtypeBytes) + (draft is null ? 0 : KvBytesPerToken(draft, dtypeBytes))) * blockSize;
        var totalBlocks = blocksOverride ?? (int)Math.Min(int.MaxValue, memoryBytes / bytesPerBlock);
        var longest = (maxModelLength + blockSize - 1) / blockSize;
        if (totalBlocks < longest)
        {
            throw new InvalidOperationException(
                $"The KV cache has {totalBlocks} blocks of {blockSize} tokens ({totalBlocks * (long)blockSize} tokens, {bytesPerBlock} bytes per block), " +
                $"fewer than one sequence of --max-model-len {maxModelLength} needs ({longest} blocks). " +
                "Raise --kv-cache-memory-bytes (or --num-gpu-blocks-override) or lower --max-model-len.");
        }
        int running, prefix;
        if (slotsCommitted)
        {
            // Every slot is paid for in full: as many as the budget holds, running ones first.
            var slots = totalBlocks / longest;
            running = Math.Min(maxNumSeqs, slots);
            prefix = prefixCaching ? slots - running : 0;
        }
        else
        {
            // Slots cost address space only; blocks bound what they hold. Each kept prefix holds a block at least.
            running = maxNumSeqs;
            prefix = prefixCaching ? Math.Min(totalBlocks, Math.Max(2 * maxNumSeqs, 32)) : 0;
        }
        return new KvCacheConfig(blockSize, totalBlocks, bytesPerBlock, memoryBytes, prefixCaching, slotsCommitted, maxModelLength, blocksOverride,
            gpuMemoryUtilization, dtypeBytes, running, prefix);
    }

    private static long KvBytesPerToken(ModelFolder model, int dtypeBytes) => 2L * model.Layers * model.KvHeads * model.HeadSize * dtypeBytes;
}
