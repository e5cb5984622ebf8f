using System.Diagnostics;

namespace Worker.StructuredOutput;

/// <summary>
/// A compiled constraint over one vocabulary, shared by every request that asks for the same one. It walks the grammar
/// byte by byte over parse stacks, keeps each distinct state once, and remembers each state's transitions and token
/// mask, so that a state met again (the inside of a string, the next array item) costs a lookup. The mask of a new state
/// is found by walking the vocabulary in byte order: tokens that share a prefix share its walk, and a rejected prefix
/// skips every token under it.
/// </summary>
internal sealed class Grammar
{
    /// <summary>Parse stacks deeper than this are not followed: recursive schemas nest at most this far.</summary>
    public const int MaxStackDepth = 192;

    /// <summary>States kept per grammar; past it, new states are computed each time (still correct, no longer cached).</summary>
    public const int MaxStates = 16_384;

    /// <summary>
    /// Bytes of token masks kept per grammar (a mask is a bit per token: 4 KB over 32k tokens); past it, masks of new
    /// states are computed each time they are needed. Counted strings make a state per length reached, so this bounds
    /// what a long constrained output can make a cached grammar hold.
    /// </summary>
    public const long MaxMaskBytes = 32L << 20;

    private readonly Dictionary<GrammarState, GrammarState> _states = [];
    private readonly Lock _lock = new();
    private long _maskBytes;

    public Grammar(GrammarNode root, TokenVocabulary vocabulary)
    {
        Vocabulary = vocabulary;
        Start = Intern(Close([new ParseStack(root, 0, null)]));
    }

    public TokenVocabulary Vocabulary { get; }

    public GrammarState Start { get; }

    /// <summary>Distinct states met so far (how much of the automaton has been built).</summary>
    public int StateCount
    {
        get
        {
            lock (_lock)
            {
                return _states.Count;
            }
        }
    }

    /// <summary>The state after <paramref name="token"/>'s bytes; dead when the grammar does not allow them here.</summary>
    public GrammarState Advance(GrammarState state, int token) => Advance(state, Vocabulary.BytesOf(token));

    /// <summary>The state after these UTF-8 bytes (a token's, or a whole text's).</summary>
    public GrammarState Advance(GrammarState state, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (var b in bytes)
            {
                state = Step(state, b);
                if (state.IsDead)
                {
                    break;
                }
            }
            return state;
        }
    }

    /// <summary>The tokens allowed in <paramref name="state"/>, a bit per token id; end of sequence only where the value is complete.</summary>
    public ulong[] MaskOf(GrammarState state)
    {
        if (state.Mask is { } cached)
        {
            return cached;
        }
        lock (_lock)
        {
            if (state.Mask is { } known)
            {
                return known;
            }
            var mask = ComputeMask(state);
            if (_maskBytes + mask.Length * sizeof(ulong) <= MaxMaskBytes && _states.ContainsKey(state))
            {
                _maskBytes += mask.Length * sizeof(ulong);
                state.Mask = mask;
            }
            return mask;
        }
    }

    private ulong[] ComputeMask(GrammarState start)
    {
        var vocabulary = Vocabulary;
        var mask = new ulong[(vocabulary.Size + 63) / 64];
        if (start.IsComplete)
        {
            foreach (var eos in vocabulary.EndOfSequence)
            {
                mask[eos >> 6] |= 1UL << eos;
            }
        }
        var sorted = vocabulary.SortedTokens;
        var sharedPrefix = vocabulary.SharedPrefix;
        var path = new GrammarState[vocabulary.LongestToken + 1];
        path[0] = start;
        var walked = 0; // bytes of the previous token whose states on path are valid
        for (var i = 0; i < sorted.Length; i++)
        {
            var token = sorted[i];
            var bytes = vocabulary.BytesOf(token);
            var depth = Math.Min(sharedPrefix[i], walked);
            while (depth < bytes.Length)
            {
                var next = Step(path[depth], bytes[depth]);
                if (next.IsDead)
                {
                    break;
                }
                path[++depth] = next;
            }
            walked = depth;
            if (depth == bytes.Length)
            {
                mask[token >> 6] |= 1UL << token;
                continue;
            }
            // bytes[..(depth + 1)] is refused: skip every following token that starts with it.
            while (i + 1 < sorted.Length && sharedPrefix[i + 1] > depth)
            {
                i++;
            }
        }
        return mask;
    }

    private GrammarState Step(GrammarState state, byte value)
    {
        if (state.Transitions?[value] is { } known)
        {
            return known;
        }
        var continuations = new List<ParseStack?>();
        foreach (var head in state.Heads)
        {
            if (((TerminalNode)head.Node).Set.Contains(value))
            {
                continuations.Add(head.Next);
            }
        }
        var next = Intern(Close(continuations));
        if (_states.ContainsKey(state))
        {
            (state.Transitions ??= new GrammarState?[256])[value] = next;
        }
        return next;
    }

    private GrammarState Intern(GrammarState state)
    {
        if (_states.TryGetValue(state, out var existing))
        {
            return existing;
        }
        if (_states.Count < MaxStates)
        {
            _states.Add(state, state);
        }
        return state;
    }

    /// <summary>
    /// Expands stacks until each top is a terminal (the epsilon closure): a sequence pushes its next item, a choice
    /// each option, a repeat its item or its end, a rule its body; an empty stack means the value is complete.
    /// </summary>
    private static GrammarState Close(IEnumerable<ParseStack?> stacks)
    {
        var heads = new List<ParseStack>();
        var seen = new HashSet<ParseStack>();
        var complete = false;
        var work = new Stack<ParseStack?>(stacks);
        while (work.TryPop(out var stack))
        {
            if (stack is null)
            {
                complete = true;
                continue;
            }
            if (stack.Depth > MaxStackDepth || !seen.Add(stack))
            {
                continue;
            }
            switch (stack.Node)
            {
                case TerminalNode:
                    heads.Add(stack);
                    break;
                case SequenceNode sequence:
                    if (sequence.Items.Length == 0)
                    {
                        work.Push(stack.Next);
                        break;
                    }
                    var rest = stack.Index + 1 < sequence.Items.Length ? new ParseStack(sequence, stack.Index + 1, stack.Next) : stack.Next;
                    work.Push(new ParseStack(sequence.Items[stack.Index], 0, rest));
                    break;
                case ChoiceNode choice:
                    for (var o = choice.Options.Length - 1; o >= 0; o--)
                    {
                        work.Push(new ParseStack(choice.Options[o], 0, stack.Next));
                    }
                    break;
                case RepeatNode repeat:
                    var count = stack.Index;
                    if (count >= repeat.Min)
                    {
                        work.Push(stack.Next);
                    }
                    if (repeat.Max == RepeatNode.Unbounded || count < repeat.Max)
                    {
                        // Past its minimum, an unbounded repeat's count no longer matters: one state for every count.
                        var done = repeat.Max == RepeatNode.Unbounded ? Math.Min(count + 1, repeat.Min) : count + 1;
                        work.Push(new ParseStack(repeat.Item, 0, new ParseStack(repeat, done, stack.Next)));
                    }
                    break;
                case RuleNode rule:
                    work.Push(new ParseStack(rule.Body, 0, stack.Next));
                    break;
                default:
                    throw new UnreachableException($"Unknown grammar node {stack.Node.GetType().Name}.");
            }
        }
        return new GrammarState([.. heads], complete);
    }
}
