using Worker.Engine;
using Worker.Runner;

namespace Worker.Api;

/// <summary>
/// What a request reader needs besides the body: who the request is, when it arrived, which model serves it, what it may
/// ask, and where its structured-output constraint is compiled.
/// </summary>
internal sealed record RequestContext(string RequestId, RequestArrival Arrival, string ModelName, LoadedModel Model, bool PerRequestMetricsEnabled, RequestLimits Limits,
    StructuredOutputs StructuredOutputs);
