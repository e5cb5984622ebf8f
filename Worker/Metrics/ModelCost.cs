using Worker.Engine;
using Worker.Runner;

namespace Worker.Metrics;

/// <summary>
/// An analytic cost model for the MFU counters (--enable-mfu-metrics), from the model's graph and dimensions: a step's
/// batched forward pass reads all weights once; each fed token costs 2 FLOPs per matrix weight (the graph's MatMul weights;
/// embedding and table gathers cost none) plus causal attention over the positions it sees (QK and AV:
/// 4 × layers × heads × head size per position), reads the cached keys and values, and writes its own.
/// </summary>
public sealed record ModelCost(long WeightBytes, long MatrixParameters, int Layers, int Heads, int KvHeads, int HeadSize, int DtypeBytes)
{
    /// <param name="dtypeBytes">Bytes per KV element: 4 for float32 models, 2 for float16 ones.</param>
    public static ModelCost From(ModelFolder folder, int dtypeBytes) =>
        new(folder.WeightBytes(), MatrixWeightCount.Read(Path.Combine(folder.Path, folder.DecoderFile)),
            folder.Layers, folder.Heads, folder.KvHeads, folder.HeadSize, dtypeBytes);

    private long KvBytesPerToken => 2L * Layers * KvHeads * HeadSize * DtypeBytes;

    /// <summary>The step's rows: fed token i (1-based) of a row attends over (context length − tokens fed + i) positions.</summary>
    public double Flops(IReadOnlyList<ForwardPass> rows) => rows.Sum(row =>
    {
        var positionsSeen = (double)row.TokensFed * (row.ContextLength - row.TokensFed) + row.TokensFed * (row.TokensFed + 1.0) / 2;
        return 2.0 * MatrixParameters * row.TokensFed + 4.0 * Layers * Heads * HeadSize * positionsSeen;
    });

    public double ReadBytes(IReadOnlyList<ForwardPass> rows) =>
        rows.Count == 0 ? 0 : WeightBytes + (double)KvBytesPerToken * rows.Sum(row => (long)row.ContextLength);

    public double WriteBytes(IReadOnlyList<ForwardPass> rows) => (double)KvBytesPerToken * rows.Sum(row => row.TokensFed);
}
