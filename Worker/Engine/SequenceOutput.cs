namespace Worker.Engine;

/// <summary>
/// What the engine hands one sequence's output processor after a loop turn: token ids, never text (detokenizing and
/// stop strings are the output processor's work, off the engine thread). <paramref name="Choice"/> is the OpenAI
/// choice index the API assigned to the sequence.
/// </summary>
/// <param name="Tokens">Tokens the step sampled for the sequence (several with speculative decoding).</param>
/// <param name="Finish">Set on the sequence's last output: the engine has ended it and counted it.</param>
/// <param name="Finished">On the last output: the sequence as it ended, for the API's reports.</param>
/// <param name="Logprobs">When the request asked for logprobs: one entry per token of <paramref name="Tokens"/>.</param>
/// <param name="PromptLogprobs">On the sequence's first output, when asked for: the logprobs of prompt tokens 1, 2, ….</param>
/// <param name="EndsWithStopToken">The last token is an EOS or stop_token_ids token: counted, never shown as text.</param>
/// <param name="AwaitsCheck">
/// The engine has ended this stop-string sequence (EOS, stop token, length) with this output, and finishes it once the
/// output processor has looked for a stop string in it (<see cref="LlmEngine.Checked"/>): the one output that waits.
/// </param>
public sealed record SequenceOutput(
    int Choice,
    int[] Tokens,
    FinishReason? Finish = null,
    object? StopReason = null,
    EngineError? Error = null,
    bool EndsWithStopToken = false,
    bool AwaitsCheck = false,
    FinishedSequence? Finished = null,
    IReadOnlyList<Runner.TokenLogprobs>? Logprobs = null,
    IReadOnlyList<Runner.TokenLogprobs>? PromptLogprobs = null);

/// <summary>Why the engine ended a sequence without finishing it: a code clients can act on and a message.</summary>
public sealed record EngineError(string Code, string Message)
{
    /// <summary>The model step failed for this sequence (a fault, or logits no token can be sampled from).</summary>
    public const string GenerationFailed = "generation_failed";

    /// <summary>The engine was put to sleep under the request.</summary>
    public const string EngineSleeping = "engine_sleeping";

    /// <summary>The server is shutting down under the request.</summary>
    public const string EngineShutdown = "engine_shutdown";

    /// <summary>Generation was paused with POST /pause?mode=abort under the request.</summary>
    public const string EnginePaused = "engine_paused";
}
