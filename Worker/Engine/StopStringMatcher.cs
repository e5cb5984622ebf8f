namespace Worker.Engine;

/// <summary>
/// Finds stop strings in streamed text, across token boundaries. Text that could still become the start of a
/// stop string is held back until it can't; text from a stop string on is never released.
/// </summary>
internal sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private string _pending = "";

    /// <summary>The stop string that matched, once one has.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds decoded text; returns what may be released now.</summary>
    public string Add(string text)
    {
        if (stops.Count == 0)
        {
            return text;
        }

        _pending += text;
        var earliest = -1;
        foreach (var stop in stops)
        {
            var at = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (earliest < 0 || at < earliest))
            {
                earliest = at;
                Matched = stop;
            }
        }
        if (earliest >= 0)
        {
            var released = _pending[..earliest];
            _pending = "";
            return released;
        }

        var held = LongestSuffixThatStartsAStop();
        var output = _pending[..^held];
        _pending = _pending[^held..];
        return output;
    }

    private int LongestSuffixThatStartsAStop()
    {
        var longest = 0;
        foreach (var stop in stops)
        {
            for (var length = Math.Min(stop.Length - 1, _pending.Length); length > longest; length--)
            {
                if (_pending.AsSpan(_pending.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }

    /// <summary>The sequence ended without a match: release what was held back.</summary>
    public string Flush()
    {
        var rest = _pending;
        _pending = "";
        return rest;
    }
}
