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

        pool.MoveToCache(a);                               // a finished: its blocks stay, evictable
        Assert.Equal((0, 4, 7), (pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));
        Assert.Equal(0, pool.Usage);

        pool.TakeFromCache(a);                             // a new sequence takes a's cache...
        pool.ShrinkTo(a, tokens: 20);                      // ...rewinds it to a 20-token common prefix
        Assert.Equal((2, 2, 0, 9), (a.Blocks, pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));

        pool.Free(a, cached: false);
        Assert.Equal((0, 0, 0, 11), (a.Blocks, pool.UsedBlocks, pool.CachedBlocks, pool.FreeBlocks));
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
