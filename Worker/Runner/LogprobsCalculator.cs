namespace Worker.Runner;

/// <summary>
/// Computes a position's logprobs beside sampling, from the logits the sampler read: one pass for the log-sum-exp
/// normalizer, one for the chosen token's rank and the top candidates (a bounded heap, no sort of the vocabulary).
/// </summary>
internal static class LogprobsCalculator
{
    /// <param name="top">How many top candidates to return (0: only the chosen token).</param>
    public static TokenLogprobs Compute(ReadOnlySpan<float> logits, int token, int top, SamplingParams parameters)
    {
        var mode = parameters.LogprobsMode;
        var values = mode is LogprobsMode.ProcessedLogprobs or LogprobsMode.ProcessedLogits ? Processed(logits, parameters) : logits;
        var normalizer = mode is LogprobsMode.RawLogprobs or LogprobsMode.ProcessedLogprobs ? LogSumExp(values) : 0f;

        var chosen = values[token];
        var rank = 1;
        var heap = new PriorityQueue<int, (float Value, int Token)>(top + 1, Worst.Instance);
        for (var i = 0; i < values.Length; i++)
        {
            var value = values[i];
            if (value > chosen)
            {
                rank++;
            }
            if (top == 0)
            {
                continue;
            }
            if (heap.Count < top)
            {
                heap.Enqueue(i, (value, i));
            }
            else if (heap.TryPeek(out _, out var least) && Worst.Instance.Compare((value, i), least) > 0)
            {
                heap.DequeueEnqueue(i, (value, i));
            }
        }
        var best = new TopLogprob[heap.Count];
        for (var i = best.Length - 1; i >= 0; i--)
        {
            var id = heap.Dequeue();
            best[i] = new TopLogprob(id, values[id] - normalizer);
        }
        return new TokenLogprobs(token, chosen - normalizer, rank, best);
    }

    /// <summary>log Σ exp(v) over the finite values, shifted by the maximum so that nothing overflows.</summary>
    private static float LogSumExp(ReadOnlySpan<float> values)
    {
        var max = float.NegativeInfinity;
        foreach (var value in values)
        {
            max = Math.Max(max, value);
        }
        var sum = 0.0;
        foreach (var value in values)
        {
            sum += Math.Exp(value - max);
        }
        return max + (float)Math.Log(sum);
    }

    /// <summary>The logits as the sampler draws from them: divided by the temperature (greedy: 1), tokens cut by top-k and top-p at -infinity.</summary>
    private static float[] Processed(ReadOnlySpan<float> logits, SamplingParams parameters)
    {
        var temperature = parameters.IsGreedy ? 1.0 : parameters.Temperature;
        var values = new float[logits.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(logits[i] / temperature);
        }
        if ((parameters.TopK <= 0 || parameters.TopK >= values.Length) && parameters.TopP >= 1.0)
        {
            return values;
        }
        // What the sampler keeps, found as the sampler finds it; every other token is cut.
        var max = float.NegativeInfinity;
        foreach (var logit in logits)
        {
            max = Math.Max(max, logit);
        }
        var kept = new List<int>();
        Sampler.Keep(logits, parameters.TopK, parameters.TopP, temperature, max, kept);
        var cut = new float[values.Length];
        Array.Fill(cut, float.NegativeInfinity);
        foreach (var token in kept)
        {
            cut[token] = values[token];
        }
        return cut;
    }

    /// <summary>Orders candidates worst first: lower value, then higher token id (ties go to the lower id, as a stable sort keeps them).</summary>
    private sealed class Worst : IComparer<(float Value, int Token)>
    {
        public static readonly Worst Instance = new();

        public int Compare((float Value, int Token) x, (float Value, int Token) y) =>
            x.Value != y.Value ? x.Value.CompareTo(y.Value) : y.Token.CompareTo(x.Token);
    }
}
