using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// The adapters resident at once, at most --max-loras (vLLM's LoRA slots): a step runs only resident adapters. A
/// request for another takes a free slot, or the slot of the least recently used adapter that nothing runs under;
/// with every slot's adapter running it waits, and the scheduler admits requests behind it (vLLM skips it the same
/// way). Adapters are told apart by id, never reused, so an unloaded and reloaded name is a new adapter.
/// </summary>
internal sealed class LoraResidency(int maxLoras)
{
    // Least recently used first.
    private readonly LinkedList<LoraRequest> _resident = new();

    public int MaxLoras => maxLoras;

    /// <summary>Resident adapters, least recently used first.</summary>
    public IEnumerable<LoraRequest> Resident => _resident;

    /// <summary>Makes the adapter resident (most recently used); false when every slot holds an adapter that runs.</summary>
    /// <param name="running">Ids of the adapters running sequences use now.</param>
    public bool TryMakeResident(LoraRequest lora, IReadOnlySet<int> running)
    {
        for (var node = _resident.First; node is not null; node = node.Next)
        {
            if (node.Value.Id == lora.Id)
            {
                _resident.Remove(node);
                _resident.AddLast(node);
                return true;
            }
        }
        if (_resident.Count >= maxLoras)
        {
            var idle = _resident.First;
            while (idle is not null && running.Contains(idle.Value.Id))
            {
                idle = idle.Next;
            }
            if (idle is null)
            {
                return false;
            }
            _resident.Remove(idle);
        }
        _resident.AddLast(lora);
        return true;
    }

    /// <summary>Frees an unloaded adapter's slot, unless something still runs under it (it goes when idle, by LRU).</summary>
    public void Evict(int id, IReadOnlySet<int> running)
    {
        for (var node = _resident.First; node is not null; node = node.Next)
        {
            if (node.Value.Id == id && !running.Contains(id))
            {
                _resident.Remove(node);
                return;
            }
        }
    }
}
