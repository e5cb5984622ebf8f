using Worker.Engine;
using Worker.Runner;

namespace Worker.Hosting;

/// <summary>
/// An engine and the models it runs, held by the host and by every request that uses them (to tokenize, detokenize,
/// submit). Sleep takes the host's hold away: new requests can no longer hold it, the engine stops at once, and the
/// models are let go only when the last request holding them has answered, never under a request's feet.
/// </summary>
public sealed class EngineInstance
{
    private readonly Action _onLastRelease;
    private int _holders = 1;

    /// <param name="onLastRelease">What to do with the models once nobody holds them (dispose them, or keep them for a wake-up).</param>
    public EngineInstance(LlmEngine engine, LoadedModel model, LoadedModel? draft, Action onLastRelease)
    {
        Engine = engine;
        Model = model;
        Draft = draft;
        _onLastRelease = onLastRelease;
    }

    public LlmEngine Engine { get; }

    public LoadedModel Model { get; }

    public LoadedModel? Draft { get; }

    /// <summary>Holds the instance for one request; false once the host has let it go.</summary>
    public bool TryHold()
    {
        var holders = Volatile.Read(ref _holders);
        while (holders > 0)
        {
            var seen = Interlocked.CompareExchange(ref _holders, holders + 1, holders);
            if (seen == holders)
            {
                return true;
            }
            holders = seen;
        }
        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _holders) == 0)
        {
            _onLastRelease();
        }
    }
}
