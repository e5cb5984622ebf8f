using System.Diagnostics.Metrics;
using ServiceDefaults.Metrics;
using C = MetricsContract.MetricCatalog;

namespace Worker.Metrics;

/// <summary>
/// The structured-output families the API records as it reads each request's constraint: requests by kind, refusals by
/// reason, compile times. The mask time is the engine's, recorded from its step stats by <see cref="VllmMetrics"/>.
/// </summary>
public sealed class StructuredOutputMetrics
{
    private readonly Counter<long> _requests, _invalid;
    private readonly Histogram<double> _compile;
    private readonly KeyValuePair<string, object?> _model;

    public StructuredOutputMetrics(IMeterFactory meterFactory, MetricsPolicy policy, string modelName)
    {
        _model = new(C.ModelName, modelName);
        var meter = meterFactory.Create(C.VellumMeter);
        _requests = meter.CreateCounter<long>(C.StructuredOutputRequests.Name, description: C.StructuredOutputRequests.Description);
        _invalid = meter.CreateCounter<long>(C.StructuredOutputInvalidSchemas.Name, description: C.StructuredOutputInvalidSchemas.Description);
        _compile = meter.CreateHistogram<double>(C.StructuredOutputCompileTime.Name, description: C.StructuredOutputCompileTime.Description);
        foreach (var type in C.StructuredOutputRequests.EnumeratedLabels["type"])
        {
            _requests.Add(0, _model, new("type", type));
        }
        foreach (var reason in C.StructuredOutputInvalidSchemas.EnumeratedLabels["reason"])
        {
            _invalid.Add(0, _model, new("reason", reason));
        }
        if (policy.IsRegistered(C.StructuredOutputCompileTime))
        {
            policy.AddEagerHistogramSeries(C.StructuredOutputCompileTime, new Dictionary<string, string> { [C.ModelName] = modelName });
        }
    }

    public void Requested(string type) => _requests.Add(1, _model, new("type", type));

    public void Refused(string reason) => _invalid.Add(1, _model, new("reason", reason));

    public void Compiled(double seconds) => _compile.Record(seconds, _model);
}
