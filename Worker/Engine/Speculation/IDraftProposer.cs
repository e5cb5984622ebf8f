namespace Worker.Engine.Speculation;

/// <summary>Guesses the next tokens of a sequence cheaply; the target model then verifies them in one pass.</summary>
public interface IDraftProposer
{
    /// <summary>Up to <paramref name="k"/> tokens to follow the sequence's tokens (none when it has no guess).</summary>
    int[] Propose(Sequence sequence, int k);

    /// <summary>After verification the sequence's first <paramref name="committed"/> tokens are final.</summary>
    void Commit(Sequence sequence, int committed);

    /// <summary>Frees what the proposer holds for the sequence (preemption, finish).</summary>
    void Release(Sequence sequence);
}
