using Worker.KvTransfer;

namespace Worker.Engine;

/// <summary>
/// vLLM V1's scheduling policy. Each step gets a token budget (--max-num-batched-tokens). Running
/// sequences come first, in admission order: a decoding one feeds its last token (plus speculative guesses), a
/// prefilling one the next chunk of its prompt that the budget allows (at most --long-prefill-token-threshold).
/// Each gets the blocks for what it will hold; when none are free the prefix pool is evicted first, then the most
/// recently admitted running sequence is preempted (recompute: its slot and blocks are released and it goes back to
/// the head of the queue). Then waiting sequences are admitted in order, with their first chunk, while a slot and
/// budget are left and the head's blocks fit; a head that does not fit blocks those behind it. The scheduler
/// decides; the <see cref="KvCacheManager"/> keeps slots, blocks and prefixes, and its operations travel in the plan.
/// With a KV connector (P/D, vLLM's): a request whose kv_transfer_params name a producer's held KV is given its slot
/// and blocks, then waits deferred (vLLM's WAITING_FOR_REMOTE_KVS) while its prompt's KV is read into the slot, and
/// runs once it has arrived, computing only its last prompt token; a failed read falls back to computing the prompt.
/// A prefill marked do_remote_decode that ends length-capped keeps its slot and blocks, held for the decode side,
/// until it is read and notified or the hold expires. With LoRA, a waiting request whose adapter cannot be made resident
/// (<see cref="LoraResidency"/>) is passed over, as vLLM's scheduler skips it, and those behind it are admitted.
/// </summary>
internal sealed class Scheduler
{
    private readonly WaitingQueue _waiting = new();
    private readonly List<Sequence> _running = [];
    private readonly KvCacheConfig _cacheConfig;
    private readonly SchedulerLimits _limits;
    private readonly int _maxModelLength;
    private readonly SpeculativeDecoding? _speculation;
    private readonly KvConnector? _connector;
    private readonly List<Sequence> _receiving = [];
    private readonly List<Sequence> _draining = [];
    private SchedulerStepCounts _stepCounts = new();

    public Scheduler(SchedulerLimits limits, KvCacheConfig cacheConfig, int maxModelLength, KvBlockSampler? sampler = null,
        SpeculativeDecoding? speculation = null, KvConnector? connector = null, LoraResidency? loras = null)
    {
        Loras = loras;
        _connector = connector;
        _limits = limits;
        _cacheConfig = cacheConfig;
        _maxModelLength = maxModelLength;
        _speculation = speculation;
        Cache = new KvCacheManager(cacheConfig, limits.MaxNumSeqs, maxModelLength, sampler, connector?.Producer);
    }

    public KvCacheManager Cache { get; }

    /// <summary>The resident LoRA adapters; null when LoRA is off.</summary>
    public LoraResidency? Loras { get; }

    /// <summary>vLLM's running_lora_adapters and waiting_lora_adapters (names of adapters with requests running, waiting) and the resident ones.</summary>
    public LoraAdapterStates? LoraStates()
    {
        if (Loras is null)
        {
            return null;
        }
        static string[] Names(IEnumerable<Sequence> sequences) =>
            sequences.Select(s => s.Request.Lora?.Name).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return new LoraAdapterStates(Loras.MaxLoras, Names(_running.Concat(_receiving)), Names(_waiting.Sequences),
            Loras.Resident.Select(l => l.Name).Order(StringComparer.Ordinal).ToArray(), (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds);
    }

    /// <summary>Ids of the adapters that running sequences (and those whose KV is arriving) use.</summary>
    public HashSet<int> RunningLoraIds() => _running.Concat(_receiving).Select(s => s.Request.LoraId).Where(id => id != 0).ToHashSet();

    /// <summary>Waiting for capacity plus deferred: vLLM's num_requests_waiting.</summary>
    public int WaitingCount => _waiting.Count + _receiving.Count;

    /// <summary>Waiting while their prompt's KV is read from a producer.</summary>
    public int DeferredCount => _receiving.Count;

    /// <summary>The waiting queue's depth in tokens, and in tokens its prefills must compute.</summary>
    public (long Tokens, long Uncached) WaitingTokens => (_waiting.Tokens, _waiting.UncachedTokens);

    /// <summary>Requests this consumer reads prompt KV for, by stage: the waiting ones counted as they queue, the pulls (at most one a slot) as they stand.</summary>
    public KvFetchCounts KvFetches()
    {
        var handshake = _receiving.Count(s => s.Pull!.Stage == KvFetchStage.Handshake);
        return new KvFetchCounts(_waiting.Pulls, handshake, _receiving.Count - handshake);
    }

    public IReadOnlyList<Sequence> Running => _running;

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0 || _receiving.Count > 0;

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
            _waiting.Add(sequence, Cache.LocalHit(sequence).Hit, PullsPrompt(sequence));
        }
    }

    /// <summary>
    /// Plans the next step: running sequences first (preempting if memory is short), then admissions; the plan carries
    /// the cache operations decided since the last one.
    /// </summary>
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
            while (!Cache.TryGrow(sequence, sequence.ComputedTokens + feed + guesses))
            {
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
        for (var node = _waiting.First; !preempted && budget > 0 && Cache.HasFreeSlot && node is not null;)
        {
            var next = node.Next;
            if (!AdapterResident(node.Value))
            {
                node = next; // its adapter waits for a slot; the requests behind it need not
                continue;
            }
            if (PullsPrompt(node.Value))
            {
                // Reading costs no compute: the budget stays for the sequences behind it.
                if (!TryPlacePull(plan, node.Value))
                {
                    break;
                }
                _waiting.Remove(node);
                node = next;
                continue;
            }
            if (!TryAdmit(plan, node.Value, budget, now))
            {
                break;
            }
            _waiting.Remove(node);
            node = next;
            budget -= plan.Rows[^1].Tokens.Length;
        }
        plan.CacheOperations = Cache.TakeOperations();
        return plan;
    }

    /// <summary>The sequence runs on the base, or its adapter is (or is now made) resident.</summary>
    private bool AdapterResident(Sequence sequence) =>
        sequence.Request.Lora is not { } lora || Loras!.TryMakeResident(lora, RunningLoraIds());

    /// <summary>Starts the plan's KV reads, once its cache operations are applied: their slots are placed and reserved.</summary>
    public void StartPulls(StepPlan plan)
    {
        foreach (var (sequence, firstBlock, blocks) in plan.Pulls)
        {
            sequence.Pull = _connector!.Pull(sequence.Request.KvTransfer!, sequence.Slot, firstBlock, blocks, sequence.Request.Lora?.Name);
        }
    }

    /// <summary>
    /// Removes a sequence that needs no more compute, freeing its slot; its cache is kept for prefix reuse when it can
    /// serve a later prompt (not after a failure: <paramref name="keepCache"/> false). A sequence already removed is left alone.
    /// </summary>
    public void Finish(Sequence sequence, bool keepCache = true)
    {
        if (_receiving.Remove(sequence))
        {
            // Its slot is being written: freed once the pull has stopped.
            sequence.Pull!.Cancel();
            _draining.Add(sequence);
            return;
        }
        if (!_running.Remove(sequence))
        {
            _waiting.Remove(sequence);
            return;
        }
        Cache.Release(sequence, keepCache);
    }

    /// <summary>
    /// Ends a finished prefill's compute but keeps its slot and blocks, held for a decode worker to read (a request
    /// marked do_remote_decode on a producer); returns the kv_transfer_params that say where. Null when this worker
    /// does not produce: the sequence is finished as any other.
    /// </summary>
    public Dictionary<string, object?>? Hold(Sequence sequence)
    {
        if (_connector?.Producer is null || !_running.Remove(sequence))
        {
            Finish(sequence);
            return null;
        }
        return Cache.Hold(sequence);
    }

    /// <summary>
    /// Moves KV transfers on, every loop turn: held prefills read (or expired) are freed, pulls that stopped after
    /// their request ended give their slots back, and sequences whose KV has arrived (or whose read failed) start running.
    /// </summary>
    public void TakeTransfers(long now)
    {
        if (_connector is null)
        {
            return;
        }
        _stepCounts.Connector.ExpiredRequests += Cache.ReleaseHolds();
        foreach (var sequence in _draining.Where(s => s.Pull!.Completion.IsCompleted).ToArray())
        {
            _draining.Remove(sequence);
            CountPull(sequence, sequence.Pull!.Completion.Result, cancelled: true);
            Cache.Release(sequence, keepCache: false);
        }
        foreach (var sequence in _receiving.Where(s => s.Pull!.Completion.IsCompleted).ToArray())
        {
            _receiving.Remove(sequence);
            Arrived(sequence, sequence.Pull!.Completion.Result, now);
        }
    }

    /// <summary>
    /// The sequence's prompt KV is in its slot (or the read failed and it computes its prompt after its local prefix hit):
    /// it runs from this step, scheduled now, as vLLM schedules a request once its remote KV has arrived.
    /// </summary>
    private void Arrived(Sequence sequence, KvPullResult result, long now)
    {
        var prompt = sequence.Request.PromptTokens.Length;
        var local = sequence.CachedPromptTokens;
        var external = result.Read ? Math.Min(sequence.Pull!.Positions.End, prompt - 1) - local : 0;
        Cache.Arrived(sequence, local + external);
        sequence.ExternalPromptTokens = external;
        sequence.CachedPromptTokens = local + external;
        if (result.Read)
        {
            sequence.KvTransfer = new KvTransferTiming(result.Bytes, result.TransferSeconds);
        }
        CountPull(sequence, result, cancelled: false);
        _stepCounts.ExternalPrefixQueries += prompt;
        _stepCounts.ExternalPrefixHits += external;
        sequence.Pull = null;
        sequence.Timeline.FirstScheduled = now;
        _running.Add(sequence);
    }

    private void CountPull(Sequence sequence, KvPullResult result, bool cancelled)
    {
        var counts = _stepCounts.Connector;
        if (result.Read)
        {
            counts.Reads.Add(new KvTransferRead(sequence.Request.Id, sequence.Request.Trace, result.Bytes, result.Descriptors, result.PostSeconds, result.TransferSeconds));
        }
        else if (result.Failure is not null && !cancelled)
        {
            counts.FailedTransfers++;
            counts.Failures.Add((sequence.Request.Id, result.Failure));
        }
        if (result.NotificationFailed)
        {
            counts.FailedNotifications++;
        }
    }

    /// <summary>A fresh request whose kv_transfer_params point at a producer's held KV, on a worker that consumes, with one sequence to feed.</summary>
    private bool PullsPrompt(Sequence sequence) =>
        _connector is { Config.Consumes: true } && sequence.Request.KvTransfer is { DoRemotePrefill: true } && sequence.Request.Parameters.N == 1
        && sequence.Timeline.FirstScheduled == 0 && sequence.Pull is null;

    /// <summary>
    /// Gives the sequence its slot, copies its local prefix hit, takes blocks for what will arrive and plans the read of
    /// the rest of the prompt but its last token (whose logits give the first output token) from the producer. False,
    /// changing nothing, when the blocks do not fit yet.
    /// </summary>
    private bool TryPlacePull(StepPlan plan, Sequence sequence)
    {
        var remote = sequence.Request.KvTransfer!;
        var prompt = sequence.Tokens.Count;
        var blockSize = _cacheConfig.BlockSize;
        var (hit, match) = Cache.LocalHit(sequence);
        var needed = (prompt - 1 + blockSize - 1) / blockSize;
        var end = Math.Min(needed, remote.RemoteBlockIds!.Count) * blockSize;
        var firstBlock = hit / blockSize;
        var blocks = Math.Max(0, end / blockSize - firstBlock);
        var reserve = Math.Max(hit, firstBlock * blockSize + blocks * blockSize);
        if (!Cache.TryPlace(sequence, hit, match, Math.Max(reserve, 1)))
        {
            return false;
        }
        sequence.CachedPromptTokens = hit;
        if (_cacheConfig.PrefixCaching)
        {
            _stepCounts.PrefixQueries += prompt;
            _stepCounts.PrefixHits += hit;
        }
        // Filler tokens of batched passes write just past a slot's length: past what is arriving, never into it.
        Cache.Reserve(sequence, reserve);
        plan.Pulls.Add((sequence, firstBlock, blocks));
        _receiving.Add(sequence);
        return true;
    }

    /// <summary>Releases everything, for shutdown.</summary>
    public void Clear()
    {
        // No pull may write into the arena once it is gone.
        var pulls = _receiving.Concat(_draining).Select(s => s.Pull!).ToArray();
        foreach (var pull in pulls)
        {
            pull.Cancel();
        }
        Task.WaitAll(pulls.Select(p => p.Completion).ToArray(), TimeSpan.FromSeconds(10));
        Cache.ReleaseHolds(all: true);
        foreach (var sequence in _running.Concat(_receiving).Concat(_draining).ToArray())
        {
            Cache.Release(sequence, keepCache: false);
        }
        _running.Clear();
        _receiving.Clear();
        _draining.Clear();
        _waiting.Clear();
        Cache.ClearPrefixes();
    }

    /// <summary>
    /// What a running sequence feeds this step: its last token plus up to K guesses when it decodes, else the next
    /// chunk of what its cache lacks.
    /// </summary>
    private (int Feed, int Guesses) Portion(Sequence sequence, int budget)
    {
        var pending = sequence.Tokens.Count - sequence.ComputedTokens;
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
        var computed = sequence.ComputedTokens;
        var tokens = sequence.TokensFrom(computed, feed);
        var samples = computed + feed == sequence.Tokens.Count;
        plan.Rows.Add(new ScheduledSequence(sequence, tokens, guesses, samples));
    }

    private bool TryAdmit(StepPlan plan, Sequence sequence, int budget, long now)
    {
        var (hit, match) = Cache.LocalHit(sequence);
        var feed = Chunk(sequence.Tokens.Count - hit, budget);
        if (feed == 0 || !Cache.TryPlace(sequence, hit, match, hit + feed))
        {
            return false;
        }

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
            if (_connector is not null)
            {
                // With a connector every new request is looked up there too; only pulled ones hit.
                _stepCounts.ExternalPrefixQueries += sequence.Request.PromptTokens.Length;
            }
        }
        _running.Add(sequence);
        Plan(plan, sequence, feed, 0);
        return true;
    }

    private void Preempt(Sequence sequence, long now)
    {
        _running.Remove(sequence);
        Cache.Release(sequence, keepCache: false);
        sequence.Timeline.Preemptions.Add(now);
        _stepCounts.Preemptions++;
        _waiting.Add(sequence, Cache.LocalHit(sequence).Hit, pulls: false, first: true);
    }
}

/// <summary>The LoRA adapters as the scheduler sees them after a turn, with the wall-clock time (Unix seconds) they were taken.</summary>
public sealed record LoraAdapterStates(int MaxLoras, IReadOnlyList<string> Running, IReadOnlyList<string> Waiting, IReadOnlyList<string> Resident, double UnixTime)
{
    /// <summary>The same adapters run, wait and are resident (whenever either was taken).</summary>
    public bool SameAdapters(LoraAdapterStates? other) =>
        other is not null && Running.SequenceEqual(other.Running) && Waiting.SequenceEqual(other.Waiting) && Resident.SequenceEqual(other.Resident);
}

/// <summary>The scheduler's knobs: --max-num-seqs, --max-num-batched-tokens, --enable-chunked-prefill, --long-prefill-token-threshold.</summary>
public sealed record SchedulerLimits(int MaxNumSeqs, int MaxNumBatchedTokens, bool ChunkedPrefill = true, int LongPrefillTokenThreshold = 0);

/// <summary>Prefix lookups (local and through the KV connector), preemptions and KV transfers in one step (vLLM's SchedulerStats).</summary>
internal sealed class SchedulerStepCounts
{
    public long PrefixQueries { get; set; }

    public long PrefixHits { get; set; }

    public long ExternalPrefixQueries { get; set; }

    public long ExternalPrefixHits { get; set; }

    public int Preemptions { get; set; }

    /// <summary>The connector's own stats, taken and reset with the step's (vLLM's kv_connector_stats).</summary>
    public KvConnectorCounts Connector { get; } = new();

    public bool IsEmpty => PrefixQueries == 0 && Preemptions == 0 && ExternalPrefixQueries == 0 && Connector.IsEmpty;
}

/// <summary>What the KV connector did in one step: reads completed, and failures by kind.</summary>
internal sealed class KvConnectorCounts
{
    public List<KvTransferRead> Reads { get; } = [];

    public int FailedTransfers { get; set; }

    public int FailedNotifications { get; set; }

    public int ExpiredRequests { get; set; }

    /// <summary>Which requests' reads failed and why, for the log.</summary>
    public List<(string RequestId, string Why)> Failures { get; } = [];

    public bool IsEmpty => Reads.Count == 0 && FailedTransfers == 0 && FailedNotifications == 0 && ExpiredRequests == 0;
}
