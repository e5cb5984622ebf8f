namespace Worker.Engine;

/// <summary>
/// Counts KV-cache blocks. Every block is free, used (held by a running sequence) or cached (held by a prefix kept
/// for reuse, evictable). GroupQueryAttention needs each sequence's cache contiguous, so the runner's arena gives
/// each one a slot and blocks are accounting units of <see cref="BlockSize"/> tokens, not addresses: a slot's pages
/// are committed as its tokens are written (and handed back when it is freed), so the counts are true to memory.
/// The pool counts; the scheduler decides who gets blocks and whom to preempt.
/// </summary>
internal sealed class KvBlockPool(int totalBlocks, int blockSize, KvBlockSampler? sampler = null)
{
    public int TotalBlocks { get; } = totalBlocks;

    public int BlockSize { get; } = blockSize;

    public int UsedBlocks { get; private set; }

    public int CachedBlocks { get; private set; }

    public int FreeBlocks => TotalBlocks - UsedBlocks - CachedBlocks;

    /// <summary>vLLM's kv_cache_usage_perc: the fraction held by running sequences (cached blocks are reclaimable).</summary>
    public double Usage => TotalBlocks == 0 ? 0 : (double)UsedBlocks / TotalBlocks;

    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>Grows a used allocation to cover <paramref name="tokens"/>; false, changing nothing, when short of free blocks.</summary>
    public bool TryGrow(KvAllocation allocation, int tokens)
    {
        var needed = BlocksFor(tokens) - allocation.Blocks;
        if (needed <= 0)
        {
            return true;
        }
        if (needed > FreeBlocks)
        {
            return false;
        }
        sampler?.Allocated(allocation, allocation.Blocks, needed);
        UsedBlocks += needed;
        allocation.Blocks += needed;
        return true;
    }

    /// <summary>Blocks for a prefix kept for reuse; false, changing nothing, when short of free blocks.</summary>
    public bool TryAllocateCached(KvAllocation allocation, int tokens)
    {
        var needed = BlocksFor(tokens);
        if (needed > FreeBlocks)
        {
            return false;
        }
        sampler?.Allocated(allocation, 0, needed);
        CachedBlocks += needed;
        allocation.Blocks = needed;
        return true;
    }

    /// <summary>A cached allocation's blocks served a prefix hit.</summary>
    public void MarkReused(KvAllocation allocation) => sampler?.Reused(allocation);

    public void Free(KvAllocation allocation, bool cached)
    {
        sampler?.Evicted(allocation, 0);
        if (cached)
        {
            CachedBlocks -= allocation.Blocks;
        }
        else
        {
            UsedBlocks -= allocation.Blocks;
        }
        allocation.Blocks = 0;
    }
}

/// <summary>The blocks one sequence's (or kept prefix's) cache holds.</summary>
internal sealed class KvAllocation
{
    public int Blocks { get; set; }

    /// <summary>Those of its blocks the residency sampler follows.</summary>
    public List<SampledBlock> Sampled { get; } = [];
}
