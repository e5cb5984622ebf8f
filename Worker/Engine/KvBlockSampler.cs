using System.Diagnostics;

namespace Worker.Engine;

/// <summary>
/// Follows a random sample of KV blocks (--kv-cache-metrics, at --kv-cache-metrics-sample) from allocation to
/// eviction, noting each reuse by a prefix hit, as vLLM's KV-block residency metrics do.
/// </summary>
internal sealed class KvBlockSampler(double rate, Random random)
{
    private readonly List<KvBlockEvent> _events = [];

    public void Allocated(KvAllocation allocation, int firstBlock, int count)
    {
        var now = Stopwatch.GetTimestamp();
        for (var block = firstBlock; block < firstBlock + count; block++)
        {
            if (random.NextDouble() < rate)
            {
                allocation.Sampled.Add(new SampledBlock(block, now, now));
            }
        }
    }

    /// <summary>Blocks from <paramref name="firstEvicted"/> on leave the cache.</summary>
    public void Evicted(KvAllocation allocation, int firstEvicted)
    {
        var now = Stopwatch.GetTimestamp();
        allocation.Sampled.RemoveAll(sampled =>
        {
            if (sampled.Index < firstEvicted)
            {
                return false;
            }
            _events.Add(new KvBlockEvent(KvBlockEventKind.Evicted, Seconds(sampled.Allocated, now), Seconds(sampled.LastAccess, now), 0));
            return true;
        });
    }

    public void Reused(KvAllocation allocation)
    {
        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < allocation.Sampled.Count; i++)
        {
            var sampled = allocation.Sampled[i];
            _events.Add(new KvBlockEvent(KvBlockEventKind.Reused, 0, 0, Seconds(sampled.LastAccess, now)));
            allocation.Sampled[i] = sampled with { LastAccess = now };
        }
    }

    public IReadOnlyList<KvBlockEvent> Drain()
    {
        if (_events.Count == 0)
        {
            return [];
        }
        var drained = _events.ToArray();
        _events.Clear();
        return drained;
    }

    private static double Seconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalSeconds;
}

internal readonly record struct SampledBlock(int Index, long Allocated, long LastAccess);
