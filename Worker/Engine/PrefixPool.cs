using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// Finished sequences' generators, kept with their KV cache for prefix reuse, least recently used first out.
/// A new sequence takes the entry sharing its longest prefix, rewinds it to that prefix and appends the rest.
/// </summary>
internal sealed class PrefixPool(KvBlockPool blocks)
{
    private readonly LinkedList<PrefixEntry> _lru = new();

    public int Count => _lru.Count;

    /// <summary>Keeps a finished sequence's cache; <paramref name="cachedTokens"/> are exactly the tokens in it.</summary>
    public void Add(SequenceGenerator generator, int[] cachedTokens, KvAllocation allocation)
    {
        blocks.MoveToCache(allocation);
        _lru.AddLast(new PrefixEntry(generator, cachedTokens, allocation));
    }

    /// <summary>
    /// Removes and returns the entry sharing the longest prefix with <paramref name="tokens"/>, with the length
    /// of that prefix; null when no entry shares a token. Its blocks count as used again.
    /// </summary>
    public (PrefixEntry Entry, int Common)? TakeLongestMatch(IReadOnlyList<int> tokens)
    {
        LinkedListNode<PrefixEntry>? best = null;
        var bestCommon = 0;
        for (var node = _lru.Last; node is not null; node = node.Previous)
        {
            var common = CommonPrefix(node.Value.Tokens, tokens);
            if (common > bestCommon)
            {
                best = node;
                bestCommon = common;
            }
        }
        if (best is null)
        {
            return null;
        }
        _lru.Remove(best);
        blocks.TakeFromCache(best.Value.Allocation);
        return (best.Value, bestCommon);
    }

    /// <summary>Puts back an entry that was taken but could not be used; it becomes the most recently used.</summary>
    public void Return(PrefixEntry entry)
    {
        blocks.MoveToCache(entry.Allocation);
        _lru.AddLast(entry);
    }

    /// <summary>Frees the least recently used entry; false when the pool is empty.</summary>
    public bool EvictLeastRecentlyUsed()
    {
        if (_lru.First is not { } oldest)
        {
            return false;
        }
        _lru.RemoveFirst();
        Release(oldest.Value);
        return true;
    }

    public void Clear()
    {
        while (EvictLeastRecentlyUsed())
        {
        }
    }

    private void Release(PrefixEntry entry)
    {
        blocks.Free(entry.Allocation, cached: true);
        entry.Generator.Dispose();
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

internal sealed record PrefixEntry(SequenceGenerator Generator, int[] Tokens, KvAllocation Allocation);
