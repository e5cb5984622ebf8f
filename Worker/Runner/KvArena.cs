namespace Worker.Runner;

/// <summary>
/// The KV cache the runner binds: for each layer one key and one value buffer shaped
/// [slots, kv_heads, capacity, head_size], allocated once. A sequence owns one slot; GroupQueryAttention writes each
/// row's new keys and values at that row's own length, reading the buffer as both past and present. The arena knows
/// how many tokens each slot holds; copies and exports work by position range.
/// </summary>
internal sealed class KvArena : IDisposable
{
    private readonly IKvMemory _memory;
    private readonly nint[] _keys;
    private readonly nint[] _values;
    private readonly int[] _lengths;

    /// <param name="capacity">Tokens a slot can hold (rounded up so each head's rows fill whole pages).</param>
    public KvArena(IKvMemory memory, int layers, int kvHeads, int headSize, int elementBytes, int slots, int capacity)
    {
        _memory = memory;
        Layers = layers;
        KvHeads = kvHeads;
        HeadSize = headSize;
        ElementBytes = elementBytes;
        Slots = slots;
        var tokenBytes = headSize * elementBytes;
        var tokensPerPage = Math.Max(1, HostKvMemory.PageSize / tokenBytes);
        Capacity = (capacity + tokensPerPage - 1) / tokensPerPage * tokensPerPage;
        _lengths = new int[slots];
        _keys = new nint[layers];
        _values = new nint[layers];
        for (var layer = 0; layer < layers; layer++)
        {
            _keys[layer] = memory.Allocate(SlotBytes * slots);
            _values[layer] = memory.Allocate(SlotBytes * slots);
        }
    }

    public int Layers { get; }

    public int KvHeads { get; }

    public int HeadSize { get; }

    public int ElementBytes { get; }

    public int Slots { get; }

    public int Capacity { get; }

    public IKvMemory Memory => _memory;

    /// <summary>Bytes one slot takes in one layer's key (or value) buffer.</summary>
    public long SlotBytes => (long)KvHeads * Capacity * HeadSize * ElementBytes;

    /// <summary>Bytes one token takes across every layer, keys and values.</summary>
    public long TokenBytes => 2L * Layers * KvHeads * HeadSize * ElementBytes;

    public int Length(int slot) => _lengths[slot];

    /// <summary>The runtime wrote <paramref name="tokens"/> more rows at the slot's end.</summary>
    internal void Extend(int slot, int tokens) => _lengths[slot] += tokens;

    /// <summary>Drops every token after the first <paramref name="tokens"/> (rejected guesses, a rewind): they are overwritten next.</summary>
    public void Truncate(int slot, int tokens) => _lengths[slot] = Math.Min(_lengths[slot], tokens);

    /// <summary>Empties a slot and gives its pages back.</summary>
    public void Free(int slot)
    {
        _lengths[slot] = 0;
        for (var layer = 0; layer < Layers; layer++)
        {
            _memory.Discard(_keys[layer] + (nint)(slot * SlotBytes), SlotBytes);
            _memory.Discard(_values[layer] + (nint)(slot * SlotBytes), SlotBytes);
        }
    }

    /// <summary>Applies the cache manager's operations, in order.</summary>
    public void Apply(IReadOnlyList<KvCacheOperation> operations)
    {
        foreach (var operation in operations)
        {
            switch (operation)
            {
                case KvCacheOperation.CopyPrefix copy: CopyPrefix(copy.From, copy.To, copy.Tokens); break;
                case KvCacheOperation.Truncate truncate: Truncate(truncate.Slot, truncate.Tokens); break;
                case KvCacheOperation.Reserve reserve: Reserve(reserve.Slot, reserve.Tokens); break;
                case KvCacheOperation.Free free: Free(free.Slot); break;
            }
        }
    }

    /// <summary>Bytes of the arena that hold memory now (on host memory, the pages sequences have written).</summary>
    public long ResidentBytes() =>
        Enumerable.Range(0, Layers).Sum(layer => _memory.ResidentBytes(_keys[layer], SlotBytes * Slots) + _memory.ResidentBytes(_values[layer], SlotBytes * Slots));

    /// <summary>Where rows <paramref name="firstSlot"/>.. start in a layer's key or value buffer.</summary>
    internal nint KeyRows(int layer, int firstSlot) => _keys[layer] + (nint)(firstSlot * SlotBytes);

    internal nint ValueRows(int layer, int firstSlot) => _values[layer] + (nint)(firstSlot * SlotBytes);

    /// <summary>Copies tokens [0, <paramref name="tokens"/>) of one slot into another, which then holds exactly those.</summary>
    public void CopyPrefix(int from, int to, int tokens)
    {
        ForEachHeadRange(from, 0, tokens, (source, bytes, layer, head, isValue) =>
            _memory.Copy(source, HeadRange(to, layer, head, isValue, 0), bytes));
        _lengths[to] = tokens;
    }

    /// <summary>
    /// The keys and values of positions [<paramref name="start"/>, <paramref name="end"/>) of a slot, laid out
    /// [layer][key, value][kv_head][position][head_size]: what moves a sequence's cache to another worker.
    /// </summary>
    public byte[] Export(int slot, int start, int end)
    {
        if (start < 0 || end > _lengths[slot] || start > end)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"slot {slot} holds {_lengths[slot]} tokens; [{start}, {end}) is not inside it");
        }
        var data = new byte[(end - start) * TokenBytes];
        var offset = 0;
        ForEachHeadRange(slot, start, end, (source, bytes, _, _, _) =>
        {
            _memory.CopyToHost(source, data.AsSpan(offset, (int)bytes));
            offset += (int)bytes;
        });
        return data;
    }

    /// <summary>Writes what <see cref="Export"/> gave at positions from <paramref name="start"/>; the slot then holds up to their end.</summary>
    public void Import(int slot, int start, ReadOnlyMemory<byte> data)
    {
        if (data.Length % TokenBytes != 0 || start > _lengths[slot])
        {
            throw new ArgumentException($"KV data of {data.Length} bytes at {start} does not fit slot {slot} ({_lengths[slot]} tokens, {TokenBytes} bytes a token)");
        }
        var end = start + (int)(data.Length / TokenBytes);
        if (end > Capacity)
        {
            throw new ArgumentException($"KV data up to position {end} passes the slot's capacity ({Capacity})");
        }
        var offset = 0;
        ForEachHeadRange(slot, start, end, (destination, bytes, _, _, _) =>
        {
            _memory.CopyFromHost(data.Span.Slice(offset, (int)bytes), destination);
            offset += (int)bytes;
        });
        _lengths[slot] = end;
    }

    /// <summary>
    /// The contiguous memory regions that hold positions [<paramref name="start"/>, <paramref name="end"/>) of a slot,
    /// in <see cref="Export"/>'s order: what a KV transfer reads from, or writes into, in place.
    /// </summary>
    internal List<(nint Start, long Bytes)> Regions(int slot, int start, int end)
    {
        if (start < 0 || start > end || end > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"positions [{start}, {end}) are not inside a slot of {Capacity}");
        }
        var regions = new List<(nint, long)>();
        ForEachHeadRange(slot, start, end, (source, bytes, _, _, _) => regions.Add((source, bytes)));
        return regions;
    }

    /// <summary>The slot will hold <paramref name="tokens"/> once what is being written into it has arrived (a KV transfer in flight).</summary>
    internal void Reserve(int slot, int tokens) => _lengths[slot] = Math.Max(_lengths[slot], tokens);

    private void ForEachHeadRange(int slot, int start, int end, Action<nint, long, int, int, bool> action)
    {
        var bytes = (end - start) * (long)HeadSize * ElementBytes;
        if (bytes == 0)
        {
            return;
        }
        for (var layer = 0; layer < Layers; layer++)
        {
            foreach (var isValue in (bool[])[false, true])
            {
                for (var head = 0; head < KvHeads; head++)
                {
                    action(HeadRange(slot, layer, head, isValue, start), bytes, layer, head, isValue);
                }
            }
        }
    }

    private nint HeadRange(int slot, int layer, int head, bool isValue, int position) =>
        (isValue ? _values[layer] : _keys[layer]) + (nint)(slot * SlotBytes + ((long)head * Capacity + position) * HeadSize * ElementBytes);

    public void Dispose() => _memory.Dispose();
}
