using Worker.Engine.Speculation;
using Worker.KvTransfer;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// The one owner of the KV cache on the engine's side (vLLM's KVCacheManager): the arena's slots, the block pool,
/// the prefixes kept for reuse and the prefills held for a decode worker. Allocation, prefix lookup, reservations and
/// frees go through it; it never touches the arena itself but queues each change as a <see cref="KvCacheOperation"/>,
/// which the runner applies, in order, before the step's passes. The scheduler decides; the manager keeps the books.
/// </summary>
internal sealed class KvCacheManager
{
    private readonly KvCacheConfig _config;
    private readonly int _maxModelLength;
    private readonly SortedSet<int> _freeSlots;
    private readonly int _runningSlots;
    private readonly List<KvCacheOperation> _operations = [];
    private readonly Dictionary<int, Sequence> _held = [];
    private readonly Dictionary<int, int> _slotAdapters = [];
    private readonly KvProducer? _producer;

    public KvCacheManager(KvCacheConfig config, int maxNumSeqs, int maxModelLength, KvBlockSampler? sampler, KvProducer? producer)
    {
        _config = config;
        _maxModelLength = maxModelLength;
        _producer = producer;
        _runningSlots = Math.Min(maxNumSeqs, config.RunningSlots);
        _freeSlots = new SortedSet<int>(Enumerable.Range(0, _runningSlots));
        Blocks = new KvBlockPool(config.TotalBlocks, config.BlockSize, sampler);
        Prefixes = new PrefixPool(Blocks, _operations, config.RunningSlots, config.PrefixSlots);
    }

    public KvBlockPool Blocks { get; }

    public PrefixPool Prefixes { get; }

    public bool HasFreeSlot => _freeSlots.Count > 0;

    /// <summary>KV slots taken, running and kept, counted from the free lists (not from who should hold them).</summary>
    public int SlotsInUse => _runningSlots - _freeSlots.Count + Prefixes.SlotsInUse;

    /// <summary>Finished prefills whose KV is held for a decode worker.</summary>
    public int HeldCount => _producer?.HeldCount ?? 0;

    /// <summary>The arena changes decided since the last call, for the next step's plan (or to apply at once).</summary>
    public IReadOnlyList<KvCacheOperation> TakeOperations()
    {
        if (_operations.Count == 0)
        {
            return [];
        }
        var taken = _operations.ToArray();
        _operations.Clear();
        return taken;
    }

    /// <summary>
    /// The longest prefix of the sequence's tokens the prefix pool holds, in whole blocks, and always at least one token
    /// short of them all: the next token's logits come from computing it. None for a request that wants its prompt's
    /// logprobs: those come from the prompt's logits, so it is computed whole (as vLLM skips the cache for it).
    /// </summary>
    public (int Hit, PrefixEntry? Entry) LocalHit(Sequence sequence)
    {
        var lookUp = _config.PrefixCaching && sequence.Request.Parameters.PromptLogprobs is null;
        var match = lookUp ? Prefixes.FindLongestMatch(sequence.Tokens, sequence.Request.LoraId) : null;
        return match is { } m
            ? (Math.Min(m.Common, sequence.Tokens.Count - 1) / _config.BlockSize * _config.BlockSize, m.Entry)
            : (0, null);
    }

    /// <summary>
    /// Gives a waiting sequence a slot holding its local prefix hit and the blocks for <paramref name="tokens"/>,
    /// evicting kept prefixes (never the one it copies) to make room; false, changing nothing, when they do not fit.
    /// </summary>
    public bool TryPlace(Sequence sequence, int hit, PrefixEntry? entry, int tokens)
    {
        var needed = Blocks.BlocksFor(HeldTokens(tokens));
        while (Blocks.FreeBlocks < needed)
        {
            if (!Prefixes.EvictLeastRecentlyUsed(keep: hit > 0 ? entry : null))
            {
                return false;
            }
        }
        sequence.Slot = ChooseSlot(sequence.Request.LoraId);
        _freeSlots.Remove(sequence.Slot);
        _slotAdapters[sequence.Slot] = sequence.Request.LoraId;
        if (hit > 0)
        {
            Prefixes.CopyInto(entry!, sequence.Slot, hit);
        }
        sequence.ComputedTokens = hit;
        Blocks.TryGrow(sequence.Allocation, HeldTokens(tokens));
        return true;
    }

    /// <summary>Grows a running sequence's blocks to hold <paramref name="tokens"/>, evicting kept prefixes first; false when even that is not enough.</summary>
    public bool TryGrow(Sequence sequence, int tokens)
    {
        while (!Blocks.TryGrow(sequence.Allocation, HeldTokens(tokens)))
        {
            if (!Prefixes.EvictLeastRecentlyUsed())
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The lowest free slot, unless sequences of other LoRA adapters run: then the free slot nearest its own adapter's
    /// (or, for an adapter with none, farthest from the others'). Each adapter's pass spans its rows' slots, feeding a
    /// filler to every other slot between them; slots kept together keep those passes narrow.
    /// </summary>
    private int ChooseSlot(int loraId)
    {
        if (_slotAdapters.Values.All(id => id == loraId))
        {
            return _freeSlots.Min;
        }
        var own = _slotAdapters.Where(s => s.Value == loraId).Select(s => s.Key).ToArray();
        var others = _slotAdapters.Where(s => s.Value != loraId).Select(s => s.Key).ToArray();
        static int Nearest(int slot, int[] slots) => slots.Min(s => Math.Abs(s - slot));
        return own.Length > 0
            ? _freeSlots.MinBy(slot => Nearest(slot, own))
            : _freeSlots.MaxBy(slot => Nearest(slot, others));
    }

    /// <summary>
    /// Gives a sequence's blocks and slot back, keeping its whole blocks for prefix reuse when it can serve a later
    /// prompt (not after a failure or a preemption: <paramref name="keepCache"/> false).
    /// </summary>
    public void Release(Sequence sequence, bool keepCache)
    {
        Blocks.Free(sequence.Allocation, cached: false);
        // A sequence that stopped inside a run of accepted guesses holds more than it kept: only kept tokens count.
        var kept = Math.Min(sequence.ComputedTokens, sequence.Tokens.Count) / _config.BlockSize * _config.BlockSize;
        if (_config.PrefixCaching && keepCache && kept > 0)
        {
            Prefixes.Add(sequence.Slot, sequence.TokensFrom(0, kept), sequence.Request.LoraId);
        }
        _operations.Add(new KvCacheOperation.Free(sequence.Slot));
        _freeSlots.Add(sequence.Slot);
        _slotAdapters.Remove(sequence.Slot);
        sequence.Slot = -1;
        sequence.ComputedTokens = 0;
    }

    /// <summary>
    /// Keeps a finished prefill's slot and blocks for a decode worker (P/D producer) and returns the kv_transfer_params
    /// that say where to read them; null when this worker does not produce.
    /// </summary>
    public Dictionary<string, object?>? Hold(Sequence sequence)
    {
        if (_producer is null)
        {
            return null;
        }
        _held[sequence.Slot] = sequence;
        // The cache holds the prompt; the token sampled from it was never fed.
        return _producer.Hold(sequence.Request.Id, sequence.Slot, Math.Min(sequence.ComputedTokens, sequence.Request.PromptTokens.Length), sequence.Request.Lora?.Name);
    }

    /// <summary>Frees the held prefills that were read (or expired unread; <paramref name="all"/> at shutdown); returns how many expired.</summary>
    public int ReleaseHolds(bool all = false)
    {
        if (_producer is null)
        {
            return 0;
        }
        var (slots, expired) = _producer.TakeReleases(all);
        foreach (var slot in slots)
        {
            if (_held.Remove(slot, out var sequence))
            {
                Release(sequence, keepCache: !all);
            }
        }
        return expired;
    }

    /// <summary>A KV read into the sequence's slot is starting: batched passes must write past <paramref name="tokens"/>.</summary>
    public void Reserve(Sequence sequence, int tokens) => _operations.Add(new KvCacheOperation.Reserve(sequence.Slot, tokens));

    /// <summary>The read into the sequence's slot has ended: the slot holds its first <paramref name="tokens"/>.</summary>
    public void Arrived(Sequence sequence, int tokens)
    {
        _operations.Add(new KvCacheOperation.Truncate(sequence.Slot, tokens));
        sequence.ComputedTokens = tokens;
    }

    /// <summary>Drops every kept prefix (shutdown, or a pause that clears the cache).</summary>
    public void ClearPrefixes() => Prefixes.Clear();

    /// <summary>On committed (device) memory a sequence holds its whole slot; on host memory, what it has written.</summary>
    private int HeldTokens(int tokens) => _config.SlotsCommitted ? _maxModelLength : tokens;
}
