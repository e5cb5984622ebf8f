using System.Collections.Concurrent;

namespace Gateway.Routing;

/// <summary>
/// llm-d's approximate prefix-cache view: chained hashes of the block-aligned chunks of prompts (token ids, or characters)
/// the gateway has sent to each worker, most recent kept, so it can estimate how much of a new prompt a worker already
/// holds without asking it. An estimate: the worker may have evicted what the gateway remembers.
/// </summary>
internal sealed class PrefixIndex(int blockSize, int blocksPerWorker = 1 << 16)
{
    private readonly ConcurrentDictionary<string, RecentBlocks> _workers = new();

    /// <summary>The worker holding the longest part of the prompt (at least one chunk), if any.</summary>
    public string? Best(IEnumerable<string> workers, IReadOnlyList<int> tokens) =>
        workers.Select(worker => (Worker: worker, Matched: MatchedTokens(worker, tokens))).Where(w => w.Matched > 0)
            .OrderByDescending(w => w.Matched).Select(w => w.Worker).FirstOrDefault();

    /// <summary>Leading prompt tokens, in whole blocks, that the worker probably has cached.</summary>
    public int MatchedTokens(string worker, IReadOnlyList<int> tokens)
    {
        if (!_workers.TryGetValue(worker, out var blocks))
        {
            return 0;
        }
        var matched = 0;
        foreach (var hash in ChainedHashes(tokens))
        {
            if (!blocks.Touch(hash))
            {
                break;
            }
            matched += blockSize;
        }
        return matched;
    }

    /// <summary>The worker was sent this prompt: it will hold its blocks once it has computed them.</summary>
    public void Record(string worker, IReadOnlyList<int> tokens)
    {
        var blocks = _workers.GetOrAdd(worker, _ => new RecentBlocks(blocksPerWorker));
        foreach (var hash in ChainedHashes(tokens))
        {
            blocks.Add(hash);
        }
    }

    /// <summary>One hash per whole block, each covering every token before it (as vLLM's block hashes chain).</summary>
    private IEnumerable<ulong> ChainedHashes(IReadOnlyList<int> tokens)
    {
        var hash = 14695981039346656037UL;
        for (var end = blockSize; end <= tokens.Count; end += blockSize)
        {
            for (var i = end - blockSize; i < end; i++)
            {
                hash = (hash ^ (uint)tokens[i]) * 1099511628211UL;
            }
            yield return hash;
        }
    }

    /// <summary>A bounded least-recently-used set of block hashes.</summary>
    private sealed class RecentBlocks(int capacity)
    {
        private readonly LinkedList<ulong> _order = new();
        private readonly Dictionary<ulong, LinkedListNode<ulong>> _nodes = [];
        private readonly Lock _lock = new();

        public bool Touch(ulong hash)
        {
            lock (_lock)
            {
                if (!_nodes.TryGetValue(hash, out var node))
                {
                    return false;
                }
                _order.Remove(node);
                _order.AddFirst(node);
                return true;
            }
        }

        public void Add(ulong hash)
        {
            lock (_lock)
            {
                if (_nodes.TryGetValue(hash, out var node))
                {
                    _order.Remove(node);
                    _order.AddFirst(node);
                    return;
                }
                _nodes[hash] = _order.AddFirst(hash);
                if (_nodes.Count > capacity)
                {
                    _nodes.Remove(_order.Last!.Value);
                    _order.RemoveLast();
                }
            }
        }
    }
}
