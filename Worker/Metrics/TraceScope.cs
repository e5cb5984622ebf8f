using System.Diagnostics;

namespace Worker.Metrics;

/// <summary>
/// Makes a request's span the current activity while its measurements are recorded on the engine thread, so the
/// exemplars OpenTelemetry takes from Activity.Current carry that request's trace and span ids.
/// </summary>
internal readonly struct TraceScope : IDisposable
{
    private readonly Activity? _previous;
    private readonly bool _entered;

    private TraceScope(Activity? previous)
    {
        _previous = previous;
        _entered = true;
    }

    public static TraceScope Enter(Activity? trace)
    {
        if (trace is null)
        {
            return default;
        }
        var scope = new TraceScope(Activity.Current);
        Activity.Current = trace;
        return scope;
    }

    public void Dispose()
    {
        if (_entered)
        {
            Activity.Current = _previous;
        }
    }
}
