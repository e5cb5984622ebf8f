using Microsoft.ML.OnnxRuntime;

namespace Worker.Runner;

/// <summary>
/// Adapters loaded through ONNX Runtime's LoRA API (<see cref="OrtLoraAdapter"/> from the <c>.onnx_adapter</c> file),
/// each with the run options that activate it for a pass; at most <c>--max-cpu-loras</c> kept, least recently used
/// first out (vLLM's CPU LoRA cache). Used on the engine's thread only.
/// </summary>
internal sealed class LoraWeights(int capacity) : IDisposable
{
    private readonly LinkedList<(int Id, OrtLoraAdapter Adapter, RunOptions Options)> _loaded = new();

    public int Count => _loaded.Count;

    /// <summary>The run options that apply the adapter, loading it (and dropping the least recently used) if needed.</summary>
    public RunOptions For(LoraRequest lora)
    {
        for (var node = _loaded.First; node is not null; node = node.Next)
        {
            if (node.Value.Id == lora.Id)
            {
                _loaded.Remove(node);
                _loaded.AddLast(node);
                return node.Value.Options;
            }
        }
        if (_loaded.Count >= capacity)
        {
            Dispose(_loaded.First!);
        }
        var adapter = OrtLoraAdapter.Create(lora.WeightsFile, null);
        var options = new RunOptions();
        options.AddActiveLoraAdapter(adapter);
        _loaded.AddLast((lora.Id, adapter, options));
        return options;
    }

    /// <summary>Forgets an unloaded adapter's weights.</summary>
    public void Remove(int id)
    {
        for (var node = _loaded.First; node is not null; node = node.Next)
        {
            if (node.Value.Id == id)
            {
                Dispose(node);
                return;
            }
        }
    }

    private void Dispose(LinkedListNode<(int Id, OrtLoraAdapter Adapter, RunOptions Options)> node)
    {
        _loaded.Remove(node);
        node.Value.Options.Dispose();
        node.Value.Adapter.Dispose();
    }

    public void Dispose()
    {
        while (_loaded.First is { } first)
        {
            Dispose(first);
        }
    }
}
