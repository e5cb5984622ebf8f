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

        if (parameters.TopP < 1.0)
        {
            // Drawn from the smallest best-first prefix whose mass reaches top_p.
            var kept = new List<int>();
            var draw = random.NextDouble() * Keep(logits, parameters.TopK, parameters.TopP, temperature, max, kept);
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

        var buffer = ArrayPool<int>.Shared.Rent(logits.Length);
        try
        {
            var candidates = new BestFirst(logits, buffer, TopKCount(parameters.TopK, logits.Length));
            var total = 0.0;
            foreach (var token in candidates.Members)
            {
                total += Weight(logits, token);
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

    /// <summary>
    /// The tokens top-k and top-p leave to draw from, best first, into <paramref name="kept"/>: the k best (every token
    /// without top-k), and of them, with top_p below 1, the smallest prefix whose mass reaches it (always the best token).
    /// Returns their mass, in weights exp(logit / temperature - max / temperature). The sampler draws from these; the
    /// processed logprobs modes report them.
    /// </summary>
    public static double Keep(ReadOnlySpan<float> logits, int topK, double topP, double temperature, float max, List<int> kept)
    {
        var scaledMax = max / temperature;
        double Weight(ReadOnlySpan<float> values, int token) => Math.Exp(values[token] / temperature - scaledMax);
        var buffer = ArrayPool<int>.Shared.Rent(logits.Length);
        try
        {
            var candidates = new BestFirst(logits, buffer, TopKCount(topK, logits.Length));
            var total = 0.0;
            foreach (var token in candidates.Members)
            {
                total += Weight(logits, token);
            }
            var cumulative = 0.0;
            while ((kept.Count == 0 || topP >= 1.0 || cumulative < topP * total) && candidates.TryNext(out var token))
            {
                kept.Add(token);
                cumulative += Weight(logits, token);
            }
            return cumulative;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(buffer);
        }
    }

    /// <summary>top_k's candidates: 0 or -1 means no cut.</summary>
    private static int TopKCount(int topK, int vocabulary) => topK > 0 ? Math.Min(topK, vocabulary) : vocabulary;

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
