using Worker.Runner;

namespace Worker.Engine.Speculation;

/// <summary>Guesses the next tokens of the step's decoding sequences cheaply; the target then verifies them in its forward pass.</summary>
public interface IDraftProposer
{
    /// <summary>For each sequence, up to its entry in <paramref name="limits"/> tokens to follow its tokens (none when it has no guess).</summary>
    int[][] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> limits);

    /// <summary>
    /// The draft model's own KV arena, a slot per running slot of the same number; null when no model proposes. The
    /// runner cuts it back with the target's after verification and frees its slots with the target's.
    /// </summary>
    internal KvArena? DraftCache { get; }
}
