using System.Buffers;

namespace Worker.Runner;

/// <summary>
/// Picks the next token from logits: greedy, or temperature with optional top-k and top-p cuts. Logits that are NaN
/// or +infinity (a broken model or numeric overflow) never become a token: the sequence fails with an error instead.
/// Candidates are visited best first (highest logit, ties to the lower id) without sorting the vocabulary
/// (<see cref="BestFirst"/>): only as far as top-p's mass or the draw reaches, which for a model's peaked distribution
/// is a handful of tokens of a 32k or 150k vocabulary.
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
        var max = float.NegativeInfinity;
        foreach (var logit in logits)
        {
            ThrowIfUnusable(logit);
            max = Math.Max(max, logit);
        }
        var temperature = parameters.Temperature;
        var scaledMax = max / temperature;
        double Weight(ReadOnlySpan<float> values, int token) => Math.Exp(values[token] / temperature - scaledMax);

        var buffer = ArrayPool<int>.Shared.Rent(logits.Length);
        try
        {
            var topK = parameters.TopK > 0 ? Math.Min(parameters.TopK, logits.Length) : logits.Length;
            var candidates = new BestFirst(logits, buffer, topK);
            var total = 0.0;
            foreach (var token in candidates.Members)
            {
                total += Weight(logits, token);
            }

            if (parameters.TopP < 1.0)
            {
                // The smallest best-first prefix whose mass reaches top_p (always at least the best token), drawn from.
                var kept = new List<int>();
                var cumulative = 0.0;
                while ((kept.Count == 0 || cumulative < parameters.TopP * total) && candidates.TryNext(out var token))
                {
                    kept.Add(token);
                    cumulative += Weight(logits, token);
                }
                var draw = random.NextDouble() * cumulative;
                foreach (var token in kept)
                {
                    draw -= Weight(logits, token);
                    if (draw < 0)
                    {
                        return token;
                    }
                }
                return kept[^1];
            }

            var remaining = random.NextDouble() * total;
            var last = 0;
            while (candidates.TryNext(out var token))
            {
                last = token;
                remaining -= Weight(logits, token);
                if (remaining < 0)
                {
                    break;
                }
            }
            return last;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(buffer);
        }
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
