using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Http;
using MetricsContract;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace ServiceDefaults.Metrics;

/// <summary>
/// What routers poll, collected alone: a second meter provider, with its own instance of OpenTelemetry's Prometheus
/// exporter, that keeps only the catalog's load signals (<see cref="MetricCatalog.LoadSignals"/>) and drops every
/// other instrument. A name[] poll that asks for nothing else is answered from it, so it costs a collection of a few
/// gauges instead of every family (and drops cost nothing at record time: a dropped instrument is not listened to).
/// </summary>
public sealed class RouterView : IDisposable
{
    private static readonly HashSet<string> Names = MetricCatalog.LoadSignals.SelectMany(f => new[] { f.Name, f.ExposedName }).ToHashSet(StringComparer.Ordinal);

    public RouterView(MetricsPolicy policy, IMeterFactory meterFactory)
    {
        Provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(MetricCatalog.VllmMeter, MetricCatalog.VellumMeter)
            .AddView(instrument => Names.Contains(instrument.Name) ? CatalogView.Configure(instrument, policy, meterFactory) : MetricStreamConfiguration.Drop)
            .SetExemplarFilter(ExemplarFilterType.AlwaysOff)
            .AddPrometheusExporter(ScrapeEndpoint.ConfigureExporter)
            .Build();
    }

    public MeterProvider Provider { get; }

    /// <summary>A scrape of /metrics whose name[] asks only for load signals.</summary>
    public static bool Serves(HttpContext http) =>
        http.Request.Path == ScrapeEndpoint.Path && ScrapeEndpoint.AskedNames(http) is { Count: > 0 } names && names.All(Names.Contains);

    public void Dispose() => Provider.Dispose();
}
