namespace Worker.Engine;

/// <summary>A sequence's speculation so far: rounds, proposed and accepted guesses, acceptances by position.</summary>
public sealed class SpeculationTally
{
    private readonly List<long> _acceptedAtPosition = [];

    public int Rounds { get; private set; }

    public long DraftTokens { get; private set; }

    public long AcceptedTokens { get; private set; }

    /// <summary>How many rounds accepted the guess at each position (a round accepting a guesses counts positions 0..a-1).</summary>
    public IReadOnlyList<long> AcceptedAtPosition => _acceptedAtPosition;

    internal void Add(int proposed, int accepted)
    {
        Rounds++;
        DraftTokens += proposed;
        AcceptedTokens += accepted;
        while (_acceptedAtPosition.Count < proposed)
        {
            _acceptedAtPosition.Add(0);
        }
        for (var position = 0; position < accepted; position++)
        {
            _acceptedAtPosition[position]++;
        }
    }
}
