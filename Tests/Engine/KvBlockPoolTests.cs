using Worker.Engine;

namespace Tests.Engine;

public class KvBlockPoolTests
{
    [Fact]
    public void Blocks_MoveBetweenFreeUsedAndCached_AndAlwaysAddUp()
    {
        // Eleven blocks of 16 tokens, as in vLLM's prefix-caching tests.
        var pool = new KvBlockPool(totalBlocks: 11, blockSize: 16);
        var a = new KvAllocation();
        var b = new KvAllocation();

        Assert.True(pool.TryGrow(a, tokens: 33));          // 33 tokens need 3 blocks
        Assert.Equal((3, 0, 8), (pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));

        Assert.True(pool.TryGrow(a, tokens: 48));          // still 3 blocks
        Assert.True(pool.TryGrow(a, tokens: 49));          // the 49th token needs a 4th
        Assert.Equal(4, a.Blocks);

        Assert.False(pool.TryGrow(b, tokens: 16 * 8));     // 8 blocks do not fit in 7: nothing changes
        Assert.Equal((0, 4, 7), (b.Blocks, pool.UsedBlocks, pool.FreeBlocks));

        var kept = new KvAllocation();                     // a finished: a 20-token prefix of it is kept for reuse
        pool.Free(a, cached: false);
        Assert.True(pool.TryAllocateCached(kept, tokens: 20));
        Assert.Equal((2, 0, 2, 9), (kept.Blocks, pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));
        Assert.Equal(0, pool.Usage);                       // kept prefixes are evictable: not usage

        Assert.False(pool.TryAllocateCached(new KvAllocation(), tokens: 16 * 10)); // no room: nothing changes
        Assert.Equal((0, 2, 9), (pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));

        pool.Free(kept, cached: true);
        Assert.Equal((0, 0, 0, 11), (kept.Blocks, pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));
    }

    [Fact]
    public void Usage_IsTheFractionHeldByRunningSequences()
    {
        var pool = new KvBlockPool(totalBlocks: 8, blockSize: 4);
        var running = new KvAllocation();
        pool.TryGrow(running, tokens: 8);

        Assert.Equal(0.25, pool.Usage);
    }
}
