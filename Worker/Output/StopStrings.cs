namespace Worker.Output;

/// <summary>
/// A request's stop strings as one Aho–Corasick automaton, built once and shared by the request's n sequences.
/// Feeding text costs O(characters fed) whatever the number of strings; each state knows the longest stop string that
/// ends there and how much of the text so far could still begin one.
/// </summary>
internal sealed class StopStrings
{
    private readonly List<Dictionary<char, int>> _next = [new()];
    private readonly List<int> _depth = [0];
    private int[] _fail = [];
    private int[] _longestMatch = [];

    private StopStrings(IReadOnlyList<string> strings)
    {
        Strings = strings;
        var terminal = new List<int> { -1 };
        for (var index = 0; index < strings.Count; index++)
        {
            var state = 0;
            foreach (var c in strings[index])
            {
                if (!_next[state].TryGetValue(c, out var child))
                {
                    child = _next.Count;
                    _next[state][c] = child;
                    _next.Add([]);
                    _depth.Add(_depth[state] + 1);
                    terminal.Add(-1);
                }
                state = child;
            }
            terminal[state] = index;
        }
        Link(terminal);
    }

    public IReadOnlyList<string> Strings { get; }

    /// <summary>The automaton, or null when there is nothing to look for.</summary>
    public static StopStrings? For(IReadOnlyList<string> strings) => strings.Count == 0 ? null : new StopStrings(strings);

    /// <summary>The state after reading <paramref name="c"/> in <paramref name="state"/>.</summary>
    public int Next(int state, char c)
    {
        while (true)
        {
            if (_next[state].TryGetValue(c, out var child))
            {
                return child;
            }
            if (state == 0)
            {
                return 0;
            }
            state = _fail[state];
        }
    }

    /// <summary>The longest text suffix that is the start of some stop string, in characters.</summary>
    public int Depth(int state) => _depth[state];

    /// <summary>The index of the longest stop string ending at this state, or -1.</summary>
    public int MatchAt(int state) => _longestMatch[state];

    /// <summary>Failure links breadth first; a state's match is its own string, else its failure state's (a shorter suffix).</summary>
    private void Link(List<int> terminal)
    {
        _fail = new int[_next.Count];
        _longestMatch = new int[_next.Count];
        _longestMatch[0] = -1;
        var queue = new Queue<int>();
        foreach (var child in _next[0].Values)
        {
            _fail[child] = 0;
            _longestMatch[child] = terminal[child];
            queue.Enqueue(child);
        }
        while (queue.TryDequeue(out var state))
        {
            foreach (var (c, child) in _next[state])
            {
                _fail[child] = Next(_fail[state], c);
                _longestMatch[child] = terminal[child] >= 0 ? terminal[child] : _longestMatch[_fail[child]];
                queue.Enqueue(child);
            }
        }
    }
}
