using Worker.Engine;

namespace Worker.Output;

/// <summary>
/// What one engine output means to the client, ready to send: new text of one choice, the tokens it counts in usage
/// (with their logprobs when asked for), and the finish on the choice's last delta. Immutable: the API never reads engine objects.
/// </summary>
public sealed record ChoiceDelta(int Choice, string Text, int NewTokens, FinishReason? Finish = null, object? StopReason = null, EngineError? Error = null,
    IReadOnlyList<Runner.TokenLogprobs>? Logprobs = null, IReadOnlyList<Runner.TokenLogprobs>? PromptLogprobs = null);
