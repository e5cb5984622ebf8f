using Worker.Options;
using Worker.Runner;

namespace Worker.Hosting;

/// <summary>
/// The LoRA adapters the worker serves, by the name clients give as <c>model</c> (vLLM's OpenAIServingModels'
/// lora_requests): those of --lora-modules, checked against the base when the model loads, and those loaded and
/// unloaded at runtime. Each gets an id from a counter that never repeats, as vLLM's lora_id_counter, so a name
/// unloaded and loaded again is a new adapter to every cache.
/// </summary>
public sealed class LoraModules
{
    /// <summary>vLLM's choices for --max-lora-rank.</summary>
    public static readonly int[] PossibleMaxRanks = [1, 8, 16, 32, 64, 128, 256, 320, 512];

    private readonly Lock _lock = new();
    private readonly List<ServedAdapter> _adapters = [];
    private int _lastId;

    /// <summary>The adapters served now, in the order they were added.</summary>
    public IReadOnlyList<ServedAdapter> All
    {
        get
        {
            lock (_lock)
            {
                return _adapters.ToArray();
            }
        }
    }

    public ServedAdapter? Find(string name)
    {
        lock (_lock)
        {
            return _adapters.Find(a => a.Lora.Name == name);
        }
    }

    /// <summary>Checks the adapter against the base model and serves it under its name.</summary>
    /// <param name="servedModelNames">The base's names: the parent is the module's base_model_name when it is one of them, else the first.</param>
    /// <exception cref="LoraAdapterException">The name is taken, or the adapter does not fit the base.</exception>
    internal ServedAdapter Add(LoraModulePath module, LoadedModel model, IReadOnlyList<string> servedModelNames, int maxLoraRank)
    {
        if (servedModelNames.Contains(module.Name))
        {
            throw new LoraAdapterException(400, $"The lora adapter '{module.Name}' has the name of the base model.");
        }
        int rank;
        try
        {
            rank = LoraAdapterCheck.Check(module.Name, Path.GetFullPath(module.Path), model.Decoder, maxLoraRank);
        }
        catch (InvalidOperationException e)
        {
            throw new LoraAdapterException(Directory.Exists(module.Path) ? 400 : 404, e.Message);
        }
        var parent = module.BaseModelName is { } name && servedModelNames.Contains(name) ? name : servedModelNames[0];
        lock (_lock)
        {
            if (_adapters.Exists(a => a.Lora.Name == module.Name))
            {
                throw new LoraAdapterException(400, $"The lora adapter '{module.Name}' has already been loaded.");
            }
            var adapter = new ServedAdapter(new LoraRequest(module.Name, ++_lastId, Path.GetFullPath(module.Path)), parent, rank);
            _adapters.Add(adapter);
            return adapter;
        }
    }

    /// <exception cref="LoraAdapterException">No adapter of that name is served (404).</exception>
    public ServedAdapter Remove(string name)
    {
        lock (_lock)
        {
            var adapter = _adapters.Find(a => a.Lora.Name == name)
                ?? throw new LoraAdapterException(404, $"The lora adapter '{name}' cannot be found.");
            _adapters.Remove(adapter);
            return adapter;
        }
    }
}

/// <summary>A served adapter: what the engine runs it by, the base model it lists under, its rank.</summary>
public sealed record ServedAdapter(LoraRequest Lora, string Parent, int Rank);

/// <summary>An adapter that cannot be loaded or unloaded, with the HTTP status the API answers.</summary>
public sealed class LoraAdapterException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
