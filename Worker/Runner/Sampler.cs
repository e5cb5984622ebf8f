namespace Worker.Runner;

/// <summary>
/// Picks the next token from logits: greedy, or temperature with optional top-k and top-p cuts. Logits that are NaN
/// or +infinity (a broken model or numeric overflow) never become a token: the sequence fails with an error instead.
/// </summary>
internal static class Sampler
{
    /// <exception cref="NonFiniteLogitsException">Some logit is NaN or +infinity (-infinity masks a token and is fine).</exception>
    public static int Sample(ReadOnlySpan<float> logits, SamplingParams parameters, Random random)
    {
        if (parameters.IsGreedy || parameters.TopK == 1)
        {
            return ArgMax(logits, requireUsable: true);
        }

        // Candidates sorted by logit, highest first; ties keep token order so seeded runs are reproducible.
        var order = new int[logits.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
            ThrowIfUnusable(logits[i]);
        }
        var keys = logits.ToArray();
        Array.Sort(keys, order, Comparer<float>.Create((a, b) => b.CompareTo(a)));
        var count = parameters.TopK > 0 ? Math.Min(parameters.TopK, order.Length) : order.Length;

        var probabilities = new double[count];
        var max = keys[0] / parameters.Temperature;
        var total = 0.0;
        for (var i = 0; i < count; i++)
        {
            probabilities[i] = Math.Exp(keys[i] / parameters.Temperature - max);
            total += probabilities[i];
        }

        if (parameters.TopP < 1.0)
        {
            // Keep the smallest prefix whose mass reaches top_p (always at least the best token).
            var cumulative = 0.0;
            var kept = 0;
            while (kept < count && cumulative < parameters.TopP * total)
            {
                cumulative += probabilities[kept++];
            }
            count = Math.Max(kept, 1);
            total = cumulative;
        }

        var draw = random.NextDouble() * total;
        for (var i = 0; i < count; i++)
        {
            draw -= probabilities[i];
            if (draw < 0)
            {
                return order[i];
            }
        }
        return order[count - 1];
    }

    /// <param name="requireUsable">Throw on NaN or +infinity, checked in the same pass (sampling does; a draft's guesses are verified anyway).</param>
    public static int ArgMax(ReadOnlySpan<float> logits, bool requireUsable = false)
    {
        var best = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            if (requireUsable)
            {
                ThrowIfUnusable(logits[i]);
            }
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>-infinity masks a token and is fine; NaN and +infinity mean the model is broken or overflowed.</summary>
    private static void ThrowIfUnusable(float logit)
    {
        if (float.IsNaN(logit) || float.IsPositiveInfinity(logit))
        {
            throw new NonFiniteLogitsException();
        }
    }
}

/// <summary>The model produced logits no token can be sampled from.</summary>
public sealed class NonFiniteLogitsException() : Exception("The model produced NaN or infinite logits; no token was sampled.");
