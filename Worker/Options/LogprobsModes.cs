using Worker.Runner;

namespace Worker.Options;

/// <summary>--logprobs-mode's values, spelled as vLLM spells them.</summary>
public static class LogprobsModes
{
    public static readonly string[] Names = ["raw_logprobs", "raw_logits", "processed_logprobs", "processed_logits"];

    public static bool TryParse(string? name, out LogprobsMode mode)
    {
        var index = Array.IndexOf(Names, name);
        mode = (LogprobsMode)Math.Max(index, 0);
        return index >= 0;
    }
}
