using Tests.Support;
using Worker.Engine;
using Worker.Runner;

namespace Tests.Engine;

public class KvCacheConfigTests
{
    private static readonly ModelFolder Tiny = ModelFolder.Read(TinyModel.Directory);

    [Fact]
    public void Create_DividesTheBudgetByTheModelsRealBytesPerBlock()
    {
        // 2 (K and V) × 2 layers × 2 KV heads × 16 head size × 4 bytes × 16 tokens = 8 KiB per block.
        var config = KvCacheConfig.Create(Tiny, maxModelLength: 512, blockSize: 16, memoryBytes: 1 << 20, blocksOverride: null, prefixCaching: true);

        Assert.Equal(8192, config.BytesPerBlock);
        Assert.Equal(128, config.TotalBlocks);
    }

    [Fact]
    public void Create_ABlockCountOverride_WinsOverTheBudget() =>
        Assert.Equal(40, KvCacheConfig.Create(Tiny, 512, 16, 1 << 20, blocksOverride: 40, prefixCaching: true).TotalBlocks);

    [Fact]
    public void Create_ACacheThatCannotHoldOneFullSequence_IsRefusedWithTheNumbers()
    {
        var error = Assert.Throws<InvalidOperationException>(() => KvCacheConfig.Create(Tiny, 512, 16, memoryBytes: 8192 * 20, blocksOverride: null, prefixCaching: true));

        Assert.Contains("20 blocks", error.Message);
        Assert.Contains("32 blocks", error.Message);
    }
}
