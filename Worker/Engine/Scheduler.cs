using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// vLLM V1's policy over the runner's KV arena. Each step gets a token budget (--max-num-batched-tokens). Running
/// sequences come first, in admission order: a decoding one feeds its last token (plus speculative guesses), a
/// prefilling one the next chunk of its prompt that the budget allows (at most --long-prefill-token-threshold).
/// Each gets the blocks for what it will hold; when none are free the prefix pool is evicted first, then the most
/// recently admitted running sequence is preempted (recompute: its slot and blocks are released and it goes back to
/// the head of the queue). Then waiting sequences are admitted in order, with their first chunk, while a slot and
/// budget are left and the head's blocks fit; a head that does not fit blocks those behind it. The scheduler
/// decides; the block pool counts; the arena holds.
/// </summary>
internal sealed class Scheduler
{
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];
    private readonly SortedSet<int> _freeSlots;
    private readonly int _runningSlots;
    private readonly KvCacheConfig _cacheConfig;
    private readonly KvArena _arena;
    private readonly SchedulerLimits _limits;
    private readonly int _maxModelLength;
    private readonly SpeculativeDecoding? _speculation;
    private SchedulerStepCounts _stepCounts = new();

    public Scheduler(SchedulerLimits limits, KvCacheConfig cacheConfig, KvArena arena, int maxModelLength, KvBlockSampler? sampler = null,
        SpeculativeDecoding? speculation = null)
    {
        _limits = limits;
        _cacheConfig = cacheConfig;
        _arena = arena;
        _maxModelLength = maxModelLength;
        _speculation = speculation;
        _runningSlots = Math.Min(limits.MaxNumSeqs, cacheConfig.RunningSlots);
        _freeSlots = new SortedSet<int>(Enumerable.Range(0, _runningSlots));
        Blocks = new KvBlockPool(cacheConfig.TotalBlocks, cacheConfig.BlockSize, sampler);
        Prefixes = new PrefixPool(Blocks, arena, cacheConfig.RunningSlots, cacheConfig.PrefixSlots);
    }

    public KvBlockPool Blocks { get; }

    public PrefixPool Prefixes { get; }

    public int WaitingCount => _waiting.Count;

    public IReadOnlyList<Sequence> Running => _running;

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    /// <summary>KV slots taken, running and kept, counted from the free lists (not from who should hold them).</summary>
    public int SlotsInUse => _runningSlots - _freeSlots.Count + Prefixes.SlotsInUse;

    /// <summary>Totals of every step's counts taken so far.</summary>
    public long PrefixQueries { get; private set; }

    public long PrefixHits { get; private set; }

    public long Preemptions { get; private set; }

    /// <summary>What scheduling did since the last call, for the step's stats (vLLM's SchedulerStats).</summary>
    public SchedulerStepCounts TakeStepCounts()
    {
        var counts = _stepCounts;
        _stepCounts = new SchedulerStepCounts();
        PrefixQueries += counts.PrefixQueries;
        PrefixHits += counts.PrefixHits;
        Preemptions += counts.Preemptions;
        return counts;
    }

    public void Add(EngineRequest request, long now)
    {
        foreach (var sequence in request.Sequences)
        {
            sequence.Timeline.Queued = now;
            _waiting.AddLast(sequence);
        }
    }

    /// <summary>Plans the next step: running sequences first (preempting if memory is short), then admissions.</summary>
    public StepPlan Schedule(long now)
    {
        var plan = new StepPlan();
        var budget = _limits.MaxNumBatchedTokens;
        var preempted = false;
        for (var i = 0; i < _running.Count && budget > 0; i++)
        {
            var sequence = _running[i];
            var (feed, guesses) = Portion(sequence, budget);
            if (feed == 0)
            {
                continue; // a prompt that must be prefilled whole and does not fit this step's budget
            }
            var scheduled = true;
            while (!Blocks.TryGrow(sequence.Allocation, HeldTokens(Computed(sequence) + feed + guesses)))
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
                    scheduled = false;
                    break;
                }
            }
            if (scheduled)
            {
                Plan(plan, sequence, feed, guesses);
                budget -= feed + guesses;
            }
        }

        // As in vLLM, a step that had to preempt admits nobody: memory is short.
        while (!preempted && budget > 0 && _freeSlots.Count > 0 && _waiting.First is { } head && TryAdmit(plan, head.Value, budget, now))
        {
            _waiting.RemoveFirst();
            budget -= plan.Rows[^1].Tokens.Length;
        }
        return plan;
    }

    /// <summary>
    /// Removes a sequence that needs no more compute, freeing its slot; its cache is kept for prefix reuse when it can
    /// serve a later prompt (not after a failure: <paramref name="keepCache"/> false). A sequence already removed is left alone.
    /// </summary>
    public void Finish(Sequence sequence, bool keepCache = true)
    {
        if (!_running.Remove(sequence))
        {
            _waiting.Remove(sequence);
            return;
        }
        Blocks.Free(sequence.Allocation, cached: false);
        // A sequence that stopped inside a run of accepted guesses holds more than it kept: only kept tokens count.
        var kept = Math.Min(Computed(sequence), sequence.Tokens.Count) / _cacheConfig.BlockSize * _cacheConfig.BlockSize;
        if (_cacheConfig.PrefixCaching && keepCache && kept > 0)
        {
            Prefixes.Add(sequence.Slot, sequence.TokensFrom(0, kept));
        }
        ReleaseSlot(sequence);
    }

    /// <summary>Releases everything, for shutdown.</summary>
    public void Clear()
    {
        foreach (var sequence in _running.ToArray())
        {
            Blocks.Free(sequence.Allocation, cached: false);
            ReleaseSlot(sequence);
        }
        _running.Clear();
        _waiting.Clear();
        Prefixes.Clear();
    }

    /// <summary>
    /// What a running sequence feeds this step: its last token plus up to K guesses when it decodes, else the next
    /// chunk of what its cache lacks.
    /// </summary>
    private (int Feed, int Guesses) Portion(Sequence sequence, int budget)
    {
        var pending = sequence.Tokens.Count - Computed(sequence);
        return pending > 1 ? (Chunk(pending, budget), 0) : (1, Guesses(sequence, budget - 1));
    }

    /// <summary>How much of <paramref name="pending"/> prompt tokens this step prefills.</summary>
    private int Chunk(int pending, int budget)
    {
        if (!_limits.ChunkedPrefill)
        {
            return pending <= budget ? pending : 0;
        }
        var chunk = Math.Min(pending, budget);
        return _limits.LongPrefillTokenThreshold > 0 ? Math.Min(chunk, _limits.LongPrefillTokenThreshold) : chunk;
    }

    /// <summary>Guesses a decoding sequence may verify: its K, within max_model_len, max_tokens and the step's budget.</summary>
    private int Guesses(Sequence sequence, int budget)
    {
        if (_speculation is not { } speculation || _running.Count > speculation.DisableByBatchSize)
        {
            return 0;
        }
        if (sequence.SpeculativeK == 0)
        {
            sequence.SpeculativeK = speculation.NumSpeculativeTokens;
        }
        var room = Math.Min(_maxModelLength - 1 - sequence.Tokens.Count, sequence.Request.Parameters.MaxTokens - sequence.OutputTokenCount - 1);
        return Math.Max(0, Math.Min(Math.Min(sequence.SpeculativeK, room), budget));
    }

    private void Plan(StepPlan plan, Sequence sequence, int feed, int guesses)
    {
        var computed = Computed(sequence);
        var tokens = sequence.TokensFrom(computed, feed);
        var samples = computed + feed == sequence.Tokens.Count;
        plan.Rows.Add(new ScheduledSequence(sequence, tokens, guesses, samples));
    }

    private bool TryAdmit(StepPlan plan, Sequence sequence, int budget, long now)
    {
        var tokens = sequence.Tokens;
        var match = _cacheConfig.PrefixCaching ? Prefixes.FindLongestMatch(tokens) : null;
        // Hits are whole blocks, and at least one token is always computed: the next token's logits come from it.
        var hit = match is { } m ? Math.Min(m.Common, tokens.Count - 1) / _cacheConfig.BlockSize * _cacheConfig.BlockSize : 0;
        var feed = Chunk(tokens.Count - hit, budget);
        if (feed == 0)
        {
            return false;
        }
        var needed = Blocks.BlocksFor(HeldTokens(hit + feed));
        while (Blocks.FreeBlocks < needed)
        {
            if (!Prefixes.EvictLeastRecentlyUsed(keep: hit > 0 ? match!.Value.Entry : null))
            {
                return false;
            }
        }

        sequence.Slot = _freeSlots.Min;
        _freeSlots.Remove(sequence.Slot);
        if (hit > 0)
        {
            Prefixes.CopyInto(match!.Value.Entry, sequence.Slot, hit);
        }
        Blocks.TryGrow(sequence.Allocation, HeldTokens(hit + feed));

        if (sequence.Timeline.FirstScheduled == 0)
        {
            sequence.Timeline.FirstScheduled = now;
            sequence.CachedPromptTokens = hit;
            if (_cacheConfig.PrefixCaching)
            {
                // vLLM counts new requests only; a preempted request's re-lookup is not a query.
                _stepCounts.PrefixQueries += sequence.Request.PromptTokens.Length;
                _stepCounts.PrefixHits += hit;
            }
        }
        _running.Add(sequence);
        Plan(plan, sequence, feed, 0);
        return true;
    }

    private void Preempt(Sequence sequence, long now)
    {
        _running.Remove(sequence);
        Blocks.Free(sequence.Allocation, cached: false);
        ReleaseSlot(sequence);
        sequence.Timeline.Preemptions.Add(now);
        _stepCounts.Preemptions++;
        _waiting.AddFirst(sequence);
    }

    private void ReleaseSlot(Sequence sequence)
    {
        _speculation?.Proposer.Release(sequence);
        _arena.Free(sequence.Slot);
        _freeSlots.Add(sequence.Slot);
        sequence.Slot = -1;
    }

    /// <summary>Tokens of the sequence its slot holds (the arena keeps the count): what the next step need not feed again.</summary>
    private int Computed(Sequence sequence) => sequence.Slot < 0 ? 0 : _arena.Length(sequence.Slot);

    /// <summary>On committed (device) memory a sequence holds its whole slot; on host memory, what it has written.</summary>
    private int HeldTokens(int tokens) => _cacheConfig.SlotsCommitted ? _maxModelLength : tokens;
}

/// <summary>The scheduler's knobs: --max-num-seqs, --max-num-batched-tokens, --enable-chunked-prefill, --long-prefill-token-threshold.</summary>
public sealed record SchedulerLimits(int MaxNumSeqs, int MaxNumBatchedTokens, bool ChunkedPrefill = true, int LongPrefillTokenThreshold = 0);

/// <summary>Prefix lookups and preemptions in one step.</summary>
internal sealed class SchedulerStepCounts
{
    public long PrefixQueries { get; set; }

    public long PrefixHits { get; set; }

    public int Preemptions { get; set; }
}
