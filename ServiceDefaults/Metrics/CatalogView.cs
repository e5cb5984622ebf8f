using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using MetricsContract;

namespace ServiceDefaults.Metrics;

/// <summary>
/// The one OpenTelemetry view for the catalog's meters. It keeps each family's exact name (a view-given name
/// may contain vLLM's colon, which instrument names may not), keeps only the catalog's label keys (so request
/// ids stay out of labels and become exemplars), sets the buckets, and drops what is not registered.
/// </summary>
public static class CatalogView
{
    /// <param name="meterFactory">This host's meter factory. A listener sees every meter of a name in the process, so
    /// meters another host created (several hosts share a process in tests) are dropped, not summed into this one's.</param>
    public static MetricStreamConfiguration? Configure(Instrument instrument, MetricsPolicy policy, IMeterFactory meterFactory)
    {
        if (instrument.Meter.Scope is IMeterFactory owner && owner != meterFactory)
        {
            return MetricStreamConfiguration.Drop;
        }
        if (instrument.Meter.Name is not (MetricCatalog.VllmMeter or MetricCatalog.VellumMeter))
        {
            return null;
        }
        if (MetricCatalog.Find(instrument.Name) is not { } family || !policy.IsRegistered(family))
        {
            return MetricStreamConfiguration.Drop;
        }
        var tagKeys = family.Labels.ToArray();
        return family.Buckets is not null
            ? new ExplicitBucketHistogramConfiguration { Name = family.Name, Description = family.Description, Boundaries = policy.BoundsOf(family), TagKeys = tagKeys }
            : new MetricStreamConfiguration { Name = family.Name, Description = family.Description, TagKeys = tagKeys };
    }
}
