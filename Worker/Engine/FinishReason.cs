namespace Worker.Engine;

/// <summary>Why a sequence ended; the string forms are vLLM's and OpenAI's.</summary>
public enum FinishReason
{
    Stop,
    Length,
    Abort,
    Error,
}

public static class FinishReasonExtensions
{
    public static string ToApiString(this FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Abort => "abort",
        _ => "error",
    };
}
