namespace Worker.Runner;

/// <summary>
/// A position's logprobs as vLLM returns them: the chosen token's value and rank (1 = the most likely), and the
/// <c>top</c> most likely tokens with theirs, highest first. Values are what <see cref="LogprobsMode"/> says.
/// </summary>
public sealed record TokenLogprobs(int Token, float Logprob, int Rank, TopLogprob[] Top);

public readonly record struct TopLogprob(int Token, float Logprob);

/// <summary>
/// vLLM's --logprobs-mode: which values logprobs report. Raw: from the logits as the model (and a structured-output
/// mask) left them, before temperature, top-k and top-p; processed: after them. Logprobs are log-softmaxed, logits not.
/// </summary>
public enum LogprobsMode
{
    RawLogprobs,
    RawLogits,
    ProcessedLogprobs,
    ProcessedLogits,
}
