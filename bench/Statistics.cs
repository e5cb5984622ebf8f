namespace Bench;

/// <summary>Mean, median and tail percentiles of a sample, in milliseconds.</summary>
internal sealed record Distribution(double Mean, double Median, double P90, double P99)
{
    public static Distribution Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return new Distribution(0, 0, 0, 0);
        }
        var sorted = samples.Order().ToArray();
        return new Distribution(sorted.Average(), Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99));
    }

    /// <summary>Linear interpolation between closest ranks, as numpy.percentile does (vLLM's bench uses it).</summary>
    private static double Percentile(double[] sorted, double p)
    {
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }
}
