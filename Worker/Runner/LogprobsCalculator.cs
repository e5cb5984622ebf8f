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
        var cutK = parameters.TopK > 0 && parameters.TopK < values.Length;
        if (!cutK && parameters.TopP >= 1.0)
        {
            return values;
        }
        var order = Enumerable.Range(0, values.Length).ToArray();
        var keys = (float[])values.Clone();
        Array.Sort(keys, order, Comparer<float>.Create((a, b) => b.CompareTo(a)));
        var kept = cutK ? parameters.TopK : values.Length;
        if (parameters.TopP < 1.0)
        {
            var max = keys[0];
            var total = 0.0;
            for (var i = 0; i < kept; i++)
            {
                total += Math.Exp(keys[i] - max);
            }
            var cumulative = 0.0;
            var inside = 0;
            while (inside < kept && cumulative < parameters.TopP * total)
            {
                cumulative += Math.Exp(keys[inside++] - max);
            }
            kept = Math.Max(inside, 1);
        }
        for (var i = kept; i < order.Length; i++)
        {
            values[order[i]] = float.NegativeInfinity;
        }
        return values;
    }

    /// <summary>Orders candidates worst first: lower value, then higher token id (ties go to the lower id, as a stable sort keeps them).</summary>
    private sealed class Worst : IComparer<(float Value, int Token)>
    {
        public static readonly Worst Instance = new();

        public int Compare((float Value, int Token) x, (float Value, int Token) y) =>
            x.Value != y.Value ? x.Value.CompareTo(y.Value) : y.Token.CompareTo(x.Token);
    }
}
