namespace Worker.Engine;

/// <summary>
/// Counts KV-cache blocks. Every block is free, used (held by a running sequence) or cached (held by a finished
/// sequence's generator in the prefix pool, evictable). ONNX Runtime GenAI keeps each generator's cache contiguous,
/// so blocks are accounting units of <see cref="BlockSize"/> tokens, not addresses; the counts are true to memory.
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

    /// <summary>Shrinks a used allocation to <paramref name="tokens"/> (after a rewind) and frees the rest.</summary>
    public void ShrinkTo(KvAllocation allocation, int tokens)
    {
        var excess = allocation.Blocks - BlocksFor(tokens);
        if (excess > 0)
        {
            sampler?.Evicted(allocation, BlocksFor(tokens));
            UsedBlocks -= excess;
            allocation.Blocks -= excess;
        }
    }

    /// <summary>A finished sequence's blocks stay allocated but become evictable.</summary>
    public void MoveToCache(KvAllocation allocation)
    {
        UsedBlocks -= allocation.Blocks;
        CachedBlocks += allocation.Blocks;
    }

    /// <summary>A cached allocation taken over by a new sequence.</summary>
    public void TakeFromCache(KvAllocation allocation)
    {
        CachedBlocks -= allocation.Blocks;
        UsedBlocks += allocation.Blocks;
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

/// <summary>The blocks one generator's cache holds.</summary>
internal sealed class KvAllocation
{
    public int Blocks { get; set; }

    /// <summary>Those of its blocks the residency sampler follows.</summary>
    public List<SampledBlock> Sampled { get; } = [];
}
