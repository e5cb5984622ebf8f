namespace Worker.Engine.Speculation;

/// <summary>Guesses the next tokens of the step's decoding sequences cheaply; the target then verifies them in its forward pass.</summary>
public interface IDraftProposer
{
    /// <summary>For each sequence, up to its entry in <paramref name="limits"/> tokens to follow its tokens (none when it has no guess).</summary>
    int[][] Propose(IReadOnlyList<Sequence> sequences, IReadOnlyList<int> limits);

    /// <summary>After verification the sequence's first <paramref name="committed"/> tokens are final.</summary>
    void Commit(Sequence sequence, int committed);

    /// <summary>Frees what the proposer holds for the sequence (preemption, finish).</summary>
    void Release(Sequence sequence);
}
