namespace Worker.Output;

/// <summary>
/// Finds stop strings in one sequence's streamed text, across token boundaries. Text that could still become the start
/// of a stop string is held back until it can't; text from a stop string on is never released. The first stop string
/// to complete wins (the longest, if several complete at the same character). Each call costs O(new text): the
/// automaton walks the new characters once, and only the held-back tail (shorter than the longest stop string) is copied.
/// </summary>
internal sealed class StopStringMatcher(StopStrings? stops)
{
    private string _held = "";
    private int _state;

    /// <summary>The stop string that matched, once one has.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds decoded text; returns what may be released now.</summary>
    public string Add(string text)
    {
        if (stops is null)
        {
            return text;
        }

        var pending = _held + text;
        for (var i = _held.Length; i < pending.Length; i++)
        {
            _state = stops.Next(_state, pending[i]);
            if (stops.MatchAt(_state) is var match and >= 0)
            {
                Matched = stops.Strings[match];
                _held = "";
                return pending[..(i + 1 - Matched.Length)];
            }
        }
        var held = stops.Depth(_state);
        _held = pending[^held..];
        return pending[..^held];
    }

    /// <summary>The sequence ended without a match: release what was held back.</summary>
    public string Flush()
    {
        var rest = _held;
        _held = "";
        return rest;
    }
}
