using Worker.Runner;

namespace Worker.Metrics;

/// <summary>
/// An analytic cost model for the MFU counters (--enable-mfu-metrics), from the model's dimensions: every forward
/// pass reads all weights once; each fed token costs 2 FLOPs per matrix weight plus attention over the context
/// (QK and AV: 4 × layers × heads × head size × context), reads the cached keys and values, and writes its own.
/// </summary>
public sealed record ModelCost(long WeightBytes, long MatrixParameters, int Layers, int Heads, int KvHeads, int HeadSize, int DtypeBytes)
{
    /// <param name="dtypeBytes">Bytes per weight and KV element: 4 for float32 models, 2 for float16 ones.</param>
    public static ModelCost From(ModelFolder folder, int dtypeBytes)
    {
        var weightBytes = folder.WeightBytes();
        // Embedding lookups are gathers, not matrix products: they cost no FLOPs per token.
        var matrixParameters = Math.Max(0, weightBytes / dtypeBytes - (long)folder.VocabSize * folder.Hidden);
        return new ModelCost(weightBytes, matrixParameters, folder.Layers, folder.Heads, folder.KvHeads, folder.HeadSize, dtypeBytes);
    }

    private long KvBytesPerToken => 2L * Layers * KvHeads * HeadSize * DtypeBytes;

    public double Flops(int tokensFed, int contextLength) =>
        tokensFed * (2.0 * MatrixParameters + 4.0 * Layers * Heads * HeadSize * contextLength);

    public double ReadBytes(int contextLength) => WeightBytes + (double)KvBytesPerToken * contextLength;

    public double WriteBytes(int tokensFed) => (double)KvBytesPerToken * tokensFed;
}
