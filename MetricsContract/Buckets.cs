namespace MetricsContract;

/// <summary>Histogram bucket bounds (without +Inf): a fixed list, or vLLM's 1-2-5 series up to max_model_len.</summary>
public abstract record Buckets
{
    public abstract double[] Bounds(int maxModelLength);

    public static Buckets Fixed(params double[] bounds) => new FixedBuckets(bounds);

    /// <summary>
    /// A bound as an le label value: OpenMetrics canonically (1.0, 2560.0), the classic format as the shortest number
    /// (1, 2560). Prometheus stores what it scraped as OpenMetrics, which it asks for, in the first form.
    /// </summary>
    public static string FormatBound(double bound, bool openMetrics)
    {
        var text = bound.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return openMetrics && !text.Contains('.') && !text.Contains('E') ? text + ".0" : text;
    }

    /// <summary>vLLM's build_1_2_5_buckets(max_model_len): 1, 2, 5, 10, 20, 50, … while ≤ max; the cap itself is not added.</summary>
    public static readonly Buckets OneTwoFive = new OneTwoFiveBuckets();

    public static readonly Buckets TimeToFirstToken = Fixed(
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0);

    public static readonly Buckets InterTokenLatency = Fixed(
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0);

    public static readonly Buckets RequestLatency = Fixed(
        0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0);

    public static readonly Buckets IterationTokens = Fixed(1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384);

    public static readonly Buckets ParamsN = Fixed(1, 2, 5, 10, 20);

    public static readonly Buckets KvBlockResidency = Fixed(
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800);

    public static readonly Buckets Preemptions = Fixed(1, 2, 3, 4, 5, 10, 20);

    /// <summary>Guesses per speculative round: 1 to 16.</summary>
    public static readonly Buckets SpeculativeTokens = Fixed(1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16);

    /// <summary>One speculative round on CPU or GPU: from a fraction of a millisecond to a second.</summary>
    public static readonly Buckets SpeculationRound = Fixed(0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0);

    /// <summary>Compiling a grammar: from tens of microseconds (a choice) to a second (a large schema over a large vocabulary).</summary>
    public static readonly Buckets GrammarCompile = Fixed(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0);

    /// <summary>Masking one row's logits: microseconds when the state's mask is cached, milliseconds when first met over a large vocabulary.</summary>
    public static readonly Buckets GrammarMask = Fixed(0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05);

    /// <summary>NIXL transfer duration: vLLM's shared latency list without its first entry.</summary>
    public static readonly Buckets NixlTransferTime = Fixed(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 5.0);

    public static readonly Buckets NixlPostTime = Fixed(0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 5.0);

    /// <summary>Bytes per transfer: 2^11 to 2^33 in steps of ×4 (vLLM's [2 ** (10 + i) for i in range(1, 25, 2)]).</summary>
    public static readonly Buckets NixlBytes = Fixed(Enumerable.Range(0, 12).Select(i => Math.Pow(2, 11 + 2 * i)).ToArray());

    public static readonly Buckets NixlDescriptors = Fixed(10, 20, 30, 50, 75, 100, 200, 400, 1000, 2000, 4000, 10000, 20000, 50000);

    private sealed record FixedBuckets(double[] Values) : Buckets
    {
        public override double[] Bounds(int maxModelLength) => Values;
    }

    private sealed record OneTwoFiveBuckets : Buckets
    {
        public override double[] Bounds(int maxModelLength)
        {
            var bounds = new List<double>();
            for (var scale = 1L; ; scale *= 10)
            {
                foreach (var mantissa in new[] { 1, 2, 5 })
                {
                    var value = mantissa * scale;
                    if (value > maxModelLength)
                    {
                        return bounds.ToArray();
                    }
                    bounds.Add(value);
                }
            }
        }
    }
}
