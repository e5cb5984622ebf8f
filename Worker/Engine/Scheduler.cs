namespace Worker.Engine;

/// <summary>
/// vLLM V1's policy on ONNX Runtime GenAI generators. Sequences wait first come, first served. Before each step
/// every running sequence gets the blocks for the token it will add; when none are free the prefix pool is
/// evicted first, then the most recently admitted running sequence is preempted (recompute: its generator and
/// blocks are released and it goes back to the head of the queue). Then waiting sequences are admitted, in
/// order, while the running set is below --max-num-seqs and the head's blocks fit; a head that does not fit
/// blocks those behind it. The scheduler decides; the block pool counts.
/// </summary>
internal sealed class Scheduler
{
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];
    private readonly int _maxNumSeqs;
    private readonly KvCacheConfig _cacheConfig;
    private readonly int _maxModelLength;
    private readonly int _lookahead;
    private readonly Action<Sequence> _releaseDraft;

    /// <param name="lookahead">Tokens a step may add beyond the sequence (speculative guesses being verified): their blocks are held too.</param>
    /// <param name="releaseDraft">Frees a sequence's draft cache when its own cache is released.</param>
    public Scheduler(int maxNumSeqs, KvCacheConfig cacheConfig, int maxModelLength, KvBlockSampler? sampler = null, int lookahead = 0,
        Action<Sequence>? releaseDraft = null)
    {
        _maxNumSeqs = maxNumSeqs;
        _cacheConfig = cacheConfig;
        _maxModelLength = maxModelLength;
        _lookahead = lookahead;
        _releaseDraft = releaseDraft ?? (_ => { });
        Blocks = new KvBlockPool(cacheConfig.TotalBlocks, cacheConfig.BlockSize, sampler);
        Prefixes = new PrefixPool(Blocks);
    }

    public KvBlockPool Blocks { get; }

    public PrefixPool Prefixes { get; }

    public int WaitingCount => _waiting.Count;

    public IReadOnlyList<Sequence> Running => _running;

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    public long PrefixQueries { get; private set; }

    public long PrefixHits { get; private set; }

    public long Preemptions { get; private set; }

    public void Add(EngineRequest request, long now)
    {
        foreach (var sequence in request.Sequences)
        {
            sequence.Timeline.Queued = now;
            _waiting.AddLast(sequence);
        }
    }

    /// <summary>Prepares the next step: blocks for every running sequence (preempting if it must), then admissions.</summary>
    public void Schedule(long now)
    {
        var preempted = false;
        for (var i = 0; i < _running.Count; i++)
        {
            var sequence = _running[i];
            while (!Blocks.TryGrow(sequence.Allocation, HeldTokens(sequence.Tokens.Count + _lookahead)))
            {
                if (Prefixes.EvictLeastRecentlyUsed())
                {
                    continue;
                }
                var victim = _running[^1];
                Preempt(victim, now);
                preempted = true;
                if (victim == sequence)
                {
                    i--; // the list shrank under us; nothing more to do for this one
                    break;
                }
            }
        }

        // As in vLLM, a step that had to preempt admits nobody: memory is short.
        while (!preempted && _running.Count < _maxNumSeqs && _waiting.First is { } head && TryAdmit(head.Value, now))
        {
            _waiting.RemoveFirst();
        }
    }

    /// <summary>
    /// Removes a sequence that needs no more compute; its cache goes to the prefix pool when it can serve a later prompt
    /// (not after a failure: <paramref name="keepCache"/> false). A sequence already removed is left alone.
    /// </summary>
    public void Finish(Sequence sequence, bool keepCache = true)
    {
        if (!_running.Remove(sequence))
        {
            _waiting.Remove(sequence);
            return;
        }
        _releaseDraft(sequence);
        // A sequence that stopped inside a run of accepted guesses holds more in its cache than it kept: the pool
        // lists only the kept tokens, and a later taker rewinds to at most those.
        var cached = Math.Min(sequence.CachedTokenCount, sequence.Tokens.Count);
        if (sequence.Generator is { } generator && _cacheConfig.PrefixCaching && keepCache && cached > 0)
        {
            Prefixes.Add(generator, sequence.Tokens.Take(cached).ToArray(), sequence.Allocation);
        }
        else
        {
            sequence.Generator?.Dispose();
            Blocks.Free(sequence.Allocation, cached: false);
        }
        sequence.Generator = null;
    }

    /// <summary>Releases everything, for shutdown.</summary>
    public void Clear()
    {
        foreach (var sequence in _running.ToArray())
        {
            _releaseDraft(sequence);
            sequence.Generator?.Dispose();
            sequence.Generator = null;
            Blocks.Free(sequence.Allocation, cached: false);
        }
        _running.Clear();
        _waiting.Clear();
        Prefixes.Clear();
    }

    private bool TryAdmit(Sequence sequence, long now)
    {
        var tokens = sequence.Tokens;
        var isFirstAdmission = sequence.Timeline.FirstScheduled == 0;
        var match = _cacheConfig.PrefixCaching ? Prefixes.TakeLongestMatch(tokens) : null;
        // At least one token is always computed: the next token's logits come from it.
        var common = match is { } m ? Math.Min(m.Common, tokens.Count - 1) : 0;
        var reusable = match?.Entry.Allocation.Blocks ?? 0;
        var needed = Blocks.BlocksFor(HeldTokens(tokens.Count + _lookahead));
        while (Blocks.FreeBlocks + reusable < needed)
        {
            if (!Prefixes.EvictLeastRecentlyUsed())
            {
                if (match is { } unused)
                {
                    Prefixes.Return(unused.Entry);
                }
                return false;
            }
        }

        if (match is { } taken && common > 0)
        {
            taken.Entry.Generator.RewindTo(common);
            sequence.Generator = taken.Entry.Generator;
            sequence.Allocation = taken.Entry.Allocation;
            Blocks.ShrinkTo(sequence.Allocation, HeldTokens(common));
            Blocks.MarkReused(sequence.Allocation);
        }
        else if (match is { } useless)
        {
            // Shares nothing usable (a one-token prompt): free it rather than keep a cache nobody can extend.
            useless.Entry.Generator.Dispose();
            Blocks.Free(useless.Entry.Allocation, cached: false);
        }
        sequence.CachedTokenCount = common;
        Blocks.TryGrow(sequence.Allocation, HeldTokens(tokens.Count + _lookahead));

        if (isFirstAdmission)
        {
            sequence.Timeline.FirstScheduled = now;
            sequence.CachedPromptTokens = common;
            if (_cacheConfig.PrefixCaching)
            {
                // vLLM counts new requests only; a preempted request's re-lookup is not a query.
                PrefixQueries += sequence.Request.PromptTokens.Length;
                PrefixHits += common;
            }
        }
        _running.Add(sequence);
        return true;
    }

    private void Preempt(Sequence sequence, long now)
    {
        _running.Remove(sequence);
        _releaseDraft(sequence);
        sequence.Generator?.Dispose();
        sequence.Generator = null;
        sequence.CachedTokenCount = 0;
        Blocks.Free(sequence.Allocation, cached: false);
        sequence.Timeline.Preemptions.Add(now);
        Preemptions++;
        _waiting.AddFirst(sequence);
    }

    /// <summary>With a shared past/present buffer the runtime allocates max_length up front; otherwise what is cached.</summary>
    private int HeldTokens(int tokens) => _cacheConfig.SharedBuffer ? _maxModelLength : tokens;
}
