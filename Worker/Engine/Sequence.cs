using Microsoft.ML.OnnxRuntimeGenAI;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>One of a request's <c>n</c> samples as the scheduler tracks it: its tokens, cache and detokenizer.</summary>
internal sealed class Sequence(EngineRequest request, int index, int choice)
{
    private readonly StopStringMatcher _stops = new(request.Parameters.Stop);

    public EngineRequest Request { get; } = request;

    public int Index { get; } = index;

    public int Choice { get; } = choice;

    public List<int> OutputTokens { get; } = [];

    /// <summary>vLLM's rule for n > 1 with a seed: sample i uses seed + i, so each is reproducible on its own.</summary>
    public Random Random { get; } = request.Parameters.Seed is { } seed ? new Random(unchecked((int)(seed + index))) : new Random();

    /// <summary>The KV cache, while the sequence runs.</summary>
    public SequenceGenerator? Generator { get; set; }

    public TokenizerStream? Detokenizer { get; set; }

    public FinishReason? Finish { get; private set; }

    public int TotalTokens => Request.PromptTokens.Length + OutputTokens.Count;

    /// <summary>
    /// Feeds what the cache lacks and samples the next token: the whole prompt (and any output, after a
    /// recompute) for a fresh generator, else the last sampled token. Runs in parallel with other sequences.
    /// </summary>
    public int ComputeNextToken(LoadedModel model)
    {
        ReadOnlySpan<float> logits;
        if (Generator is null)
        {
            Generator = model.CreateGenerator();
            logits = Generator.Append([.. Request.PromptTokens, .. OutputTokens]);
        }
        else
        {
            logits = Generator.Append([OutputTokens[^1]]);
        }
        return Sampler.Sample(logits, Request.Parameters, Random);
    }

    /// <summary>Takes a sampled token: decides whether it ends the sequence and what text it releases.</summary>
    public SequenceOutput AcceptToken(int token, IReadOnlyList<int> eosTokenIds, int maxModelLength)
    {
        OutputTokens.Add(token);
        var parameters = Request.Parameters;
        if ((!parameters.IgnoreEos && eosTokenIds.Contains(token)) || parameters.StopTokenIds.Contains(token))
        {
            return Complete(FinishReason.Stop, _stops.Flush(), stopReason: null);
        }

        var text = _stops.Add(Detokenizer!.Decode(token));
        if (_stops.Matched is { } stop)
        {
            return Complete(FinishReason.Stop, text, stop);
        }
        if (OutputTokens.Count >= parameters.MaxTokens || TotalTokens >= maxModelLength)
        {
            return Complete(FinishReason.Length, text + _stops.Flush(), stopReason: null);
        }
        return new SequenceOutput(Choice, text, NewTokens: 1);
    }

    /// <summary>Ends the sequence from outside the token path (abort, error); releases nothing more.</summary>
    public SequenceOutput End(FinishReason reason, string? error = null)
    {
        Finish = reason;
        return new SequenceOutput(Choice, "", NewTokens: 0, reason, Error: error);
    }

    private SequenceOutput Complete(FinishReason reason, string text, string? stopReason)
    {
        Finish = reason;
        return new SequenceOutput(Choice, text, NewTokens: 1, reason, stopReason);
    }

    /// <summary>Releases the cache and detokenizer; safe to call more than once.</summary>
    public void ReleaseResources()
    {
        Generator?.Dispose();
        Generator = null;
        Detokenizer?.Dispose();
        Detokenizer = null;
    }
}
