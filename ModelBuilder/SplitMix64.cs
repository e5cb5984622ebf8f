namespace ModelBuilder;

/// <summary>
/// A tiny deterministic random source for model weights. Normal samples use the Irwin–Hall sum of
/// uniforms instead of Box–Muller so that only additions are involved: the same seed gives
/// bit-identical weights on every platform and runtime (no Math.Log/Cos rounding differences).
/// </summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Approximately standard normal: four uniforms summed, centred and scaled to unit variance.</summary>
    public float NextNormal()
    {
        var sum = NextDouble() + NextDouble() + NextDouble() + NextDouble();
        return (float)((sum - 2.0) * 1.7320508075688772);
    }
}
