using Worker.StructuredOutput;

namespace Worker.Runner;

/// <summary>How one request samples, already validated by the API.</summary>
public sealed record SamplingParams
{
    public int N { get; init; } = 1;

    /// <summary>
    /// vLLM's _SAMPLING_EPS: temperatures below it sample greedily. Dividing logits by a smaller one would overflow
    /// them to infinity, and their softmax to NaN.
    /// </summary>
    public const double GreedyBelowTemperature = 1e-5;

    /// <summary>Below <see cref="GreedyBelowTemperature"/> (0 included) means greedy.</summary>
    public double Temperature { get; init; } = 1.0;

    public double TopP { get; init; } = 1.0;

    /// <summary>0 or -1: no top-k cut.</summary>
    public int TopK { get; init; } = -1;

    public long? Seed { get; init; }

    public required int MaxTokens { get; init; }

    /// <summary>What the client asked for as max_tokens (null when it relied on the default).</summary>
    public int? RequestedMaxTokens { get; init; }

    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>A set: the engine looks each sampled token up in it.</summary>
    public IReadOnlySet<int> StopTokenIds { get; init; } = new HashSet<int>();

    public bool IgnoreEos { get; init; }

    /// <summary>Logprobs for each sampled token with this many top candidates (0: the token's own only); null: none.</summary>
    public int? Logprobs { get; init; }

    /// <summary>
    /// vLLM's prompt_logprobs: for each prompt token after the first, its logprob given the tokens before it, with this
    /// many top candidates; null: none. The prompt is then computed whole (no prefix-cache hit: its logits are needed).
    /// </summary>
    public int? PromptLogprobs { get; init; }

    /// <summary>Which values logprobs report (vLLM's --logprobs-mode).</summary>
    public LogprobsMode LogprobsMode { get; init; }

    /// <summary>The grammar the output must follow (structured output); null: unconstrained.</summary>
    internal Grammar? Grammar { get; init; }

    public bool IsGreedy => Temperature < GreedyBelowTemperature;
}
