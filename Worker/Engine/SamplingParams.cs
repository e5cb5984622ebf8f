namespace Worker.Engine;

/// <summary>How one request samples, already validated by the API.</summary>
public sealed record SamplingParams
{
    public int N { get; init; } = 1;

    /// <summary>0 means greedy.</summary>
    public double Temperature { get; init; } = 1.0;

    public double TopP { get; init; } = 1.0;

    /// <summary>0 or -1: no top-k cut.</summary>
    public int TopK { get; init; } = -1;

    public long? Seed { get; init; }

    public required int MaxTokens { get; init; }

    /// <summary>What the client asked for as max_tokens (null when it relied on the default).</summary>
    public int? RequestedMaxTokens { get; init; }

    public IReadOnlyList<string> Stop { get; init; } = [];

    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    public bool IgnoreEos { get; init; }

    public bool IsGreedy => Temperature == 0;
}
