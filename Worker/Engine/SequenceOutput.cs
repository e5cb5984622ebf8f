namespace Worker.Engine;

/// <summary>
/// What one engine step produced for one sequence: new text and tokens, and the finish when it ended.
/// <paramref name="Choice"/> is the OpenAI choice index the API assigned to the sequence.
/// </summary>
public sealed record SequenceOutput(
    int Choice,
    string Text,
    int NewTokens,
    FinishReason? Finish = null,
    string? StopReason = null,
    string? Error = null);
