namespace ModelBuilder;

/// <summary>The dimensions of one decoder the builder writes.</summary>
public sealed record ModelShape(
    int Layers, int Hidden, int Heads, int KvHeads, int HeadSize, int Ffn, int ContextLength,
    float LogitNoiseStd, ulong Seed);

/// <summary>A target model and the draft that shares its vocabulary.</summary>
public sealed record ModelSize(string Name, ModelShape Target, ModelShape Draft)
{
    /// <summary>About 0.1M parameters: fast enough to build at every test run.</summary>
    public static readonly ModelSize Tiny = new("tiny",
        Target: new(Layers: 2, Hidden: 64, Heads: 4, KvHeads: 2, HeadSize: 16, Ffn: 256, ContextLength: 512, LogitNoiseStd: 0.3f, Seed: 1),
        Draft: new(Layers: 1, Hidden: 32, Heads: 2, KvHeads: 1, HeadSize: 16, Ffn: 64, ContextLength: 512, LogitNoiseStd: 0.3f, Seed: 2));

    /// <summary>
    /// About 25M parameters: a CPU-bound model whose step time dominates serving overhead, for benchmarks. Its draft
    /// adds little noise of its own to the shared bigram prior, as a draft distilled from its target agrees with it:
    /// it predicts about 73 % of the target's greedy tokens (60 % with the target's own noise level).
    /// </summary>
    public static readonly ModelSize Small = new("small",
        Target: new(Layers: 8, Hidden: 512, Heads: 8, KvHeads: 4, HeadSize: 64, Ffn: 2048, ContextLength: 2048, LogitNoiseStd: 0.3f, Seed: 11),
        Draft: new(Layers: 1, Hidden: 256, Heads: 4, KvHeads: 2, HeadSize: 64, Ffn: 1024, ContextLength: 2048, LogitNoiseStd: 0.05f, Seed: 12));

    public static ModelSize Parse(string name) => name switch
    {
        "tiny" => Tiny,
        "small" => Small,
        _ => throw new ArgumentException($"Unknown model size '{name}'. Use 'tiny' or 'small'."),
    };
}
