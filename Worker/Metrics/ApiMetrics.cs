using System.Diagnostics.Metrics;
using C = MetricsContract.MetricCatalog;

namespace Worker.Metrics;

/// <summary>The worker API's own families (catalog group WorkerApi), apart from what the engine's stats record.</summary>
public sealed class ApiMetrics
{
    private long _unhandledErrors;

    public ApiMetrics(IMeterFactory meterFactory)
    {
        // Observed at each scrape, so the series is there from start-up, even if this is created before the exporter listens.
        var meter = meterFactory.Create(C.VellumMeter);
        meter.CreateObservableCounter(C.WorkerUnhandledErrors.Name, () => Volatile.Read(ref _unhandledErrors), description: C.WorkerUnhandledErrors.Description);
    }

    public void UnhandledError() => Interlocked.Increment(ref _unhandledErrors);
}
