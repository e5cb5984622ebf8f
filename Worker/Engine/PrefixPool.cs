using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// Finished sequences' KV caches kept for reuse, each in a slot of the runner's arena reserved for them, least
/// recently used first out; part of the <see cref="KvCacheManager"/>, it queues its copies and frees as its operations.
/// A new sequence finds the entry sharing its longest prefix and copies that prefix into its own slot: the entry
/// stays, so several requests at once can reuse one cached prefix. Entries hold whole blocks only (vLLM caches and
/// counts hits per full block), and a prefix already kept, or kept longer, is not kept twice. Entries are per LoRA
/// adapter (0: the base): keys and values computed under one adapter are never another's (vLLM hashes the adapter
/// into its block hashes).
/// </summary>
internal sealed class PrefixPool(KvBlockPool blocks, List<KvCacheOperation> operations, int firstSlot, int slots)
{
    private readonly LinkedList<PrefixEntry> _lru = new();
    private readonly Stack<int> _freeSlots = new(Enumerable.Range(firstSlot, slots).Reverse());

    public int Count => _lru.Count;

    /// <summary>Prefix slots taken, from the free list: an entry that lost its slot, or a slot never returned, shows here.</summary>
    public int SlotsInUse => slots - _freeSlots.Count;

    /// <summary>Keeps the first <paramref name="tokens"/>.Length tokens of <paramref name="fromSlot"/>, computed under adapter <paramref name="loraId"/>, if there is room for them.</summary>
    public void Add(int fromSlot, int[] tokens, int loraId)
    {
        for (var node = _lru.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.LoraId != loraId)
            {
                node = next;
                continue;
            }
            var common = CommonPrefix(node.Value.Tokens, tokens);
            if (common == tokens.Length)
            {
                Touch(node); // already kept, whole
                return;
            }
            if (common == node.Value.Tokens.Length)
            {
                Remove(node); // the new entry holds all of it
            }
            node = next;
        }
        var allocation = new KvAllocation();
        while (_freeSlots.Count == 0 || !blocks.TryAllocateCached(allocation, tokens.Length))
        {
            if (!EvictLeastRecentlyUsed())
            {
                return; // the cache is too small to keep it: not kept
            }
        }
        var slot = _freeSlots.Pop();
        operations.Add(new KvCacheOperation.CopyPrefix(fromSlot, slot, tokens.Length));
        _lru.AddLast(new PrefixEntry(slot, tokens, allocation, loraId));
    }

    /// <summary>The entry of adapter <paramref name="loraId"/> sharing the longest prefix with <paramref name="tokens"/> and that prefix's length; null when none shares a token.</summary>
    public (PrefixEntry Entry, int Common)? FindLongestMatch(IReadOnlyList<int> tokens, int loraId)
    {
        LinkedListNode<PrefixEntry>? best = null;
        var bestCommon = 0;
        for (var node = _lru.Last; node is not null; node = node.Previous)
        {
            if (node.Value.LoraId != loraId)
            {
                continue;
            }
            var common = CommonPrefix(node.Value.Tokens, tokens);
            if (common > bestCommon)
            {
                best = node;
                bestCommon = common;
            }
        }
        return best is null ? null : (best.Value, bestCommon);
    }

    /// <summary>Copies an entry's first <paramref name="tokens"/> into a sequence's slot; the entry becomes the most recently used.</summary>
    public void CopyInto(PrefixEntry entry, int slot, int tokens)
    {
        operations.Add(new KvCacheOperation.CopyPrefix(entry.Slot, slot, tokens));
        blocks.MarkReused(entry.Allocation);
        if (_lru.Find(entry) is { } node)
        {
            Touch(node);
        }
    }

    /// <summary>Frees the least recently used entry other than <paramref name="keep"/>; false when there is none.</summary>
    public bool EvictLeastRecentlyUsed(PrefixEntry? keep = null)
    {
        var oldest = _lru.First;
        if (oldest is not null && oldest.Value == keep)
        {
            oldest = oldest.Next;
        }
        if (oldest is null)
        {
            return false;
        }
        Remove(oldest);
        return true;
    }

    public void Clear()
    {
        while (EvictLeastRecentlyUsed())
        {
        }
    }

    private void Touch(LinkedListNode<PrefixEntry> node)
    {
        _lru.Remove(node);
        _lru.AddLast(node);
    }

    private void Remove(LinkedListNode<PrefixEntry> node)
    {
        _lru.Remove(node);
        blocks.Free(node.Value.Allocation, cached: true);
        operations.Add(new KvCacheOperation.Free(node.Value.Slot));
        _freeSlots.Push(node.Value.Slot);
    }

    private static int CommonPrefix(int[] cached, IReadOnlyList<int> tokens)
    {
        var length = Math.Min(cached.Length, tokens.Count);
        var i = 0;
        while (i < length && cached[i] == tokens[i])
        {
            i++;
        }
        return i;
    }
}

internal sealed record PrefixEntry(int Slot, int[] Tokens, KvAllocation Allocation, int LoraId);
