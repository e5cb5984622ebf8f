using System.Diagnostics;
using System.Diagnostics.Metrics;
using ServiceDefaults.Metrics;
using C = MetricsContract.MetricCatalog;
using MetricsContract;

namespace Gateway.Proxy;

/// <summary>
/// The gateway's own metrics (catalog group "gateway"): requests by route, status and upstream worker, the
/// upstream's time to first byte of body (the first token when streaming), and requests in flight.
/// </summary>
public sealed class GatewayMetrics
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _timeToFirstByte;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Counter<long> _prefillDecode, _retries, _brokenStreams, _routed;
    private readonly Histogram<double> _prefillLeg;

    private readonly bool _exemplars;

    /// <param name="policy">--enable-exemplars: request-level observations carry the request id (as the worker's do).</param>
    /// <param name="listening">
    /// Taken so that the provider listens before the zero series below are recorded: a measurement made before any
    /// listener is lost, and this class may be built early (the key gate's fleet lookup reaches YARP's state at start-up).
    /// </param>
    /// <param name="services">Where YARP's proxy state is read at each observation (it is built after this class may be).</param>
    public GatewayMetrics(IMeterFactory meterFactory, MetricsPolicy policy, OpenTelemetry.Metrics.MeterProvider listening, IServiceProvider services)
    {
        _exemplars = policy.EnableExemplars;
        var meter = meterFactory.Create(C.VellumMeter);
        _requests = meter.CreateCounter<long>(C.GatewayRequests.Name, description: C.GatewayRequests.Description);
        _timeToFirstByte = meter.CreateHistogram<double>(C.GatewayUpstreamTimeToFirstByte.Name, description: C.GatewayUpstreamTimeToFirstByte.Description);
        _inFlight = meter.CreateUpDownCounter<long>(C.GatewayRequestsInFlight.Name, description: C.GatewayRequestsInFlight.Description);
        _prefillDecode = meter.CreateCounter<long>(C.GatewayPrefillDecodeRequests.Name, description: C.GatewayPrefillDecodeRequests.Description);
        _prefillLeg = meter.CreateHistogram<double>(C.GatewayPrefillLegTime.Name, description: C.GatewayPrefillLegTime.Description);
        _retries = meter.CreateCounter<long>(C.GatewayRetries.Name, description: C.GatewayRetries.Description);
        _brokenStreams = meter.CreateCounter<long>(C.GatewayBrokenStreams.Name, description: C.GatewayBrokenStreams.Description);
        _routed = meter.CreateCounter<long>(C.GatewayRoutingDecisions.Name, description: C.GatewayRoutingDecisions.Description);
        meter.CreateObservableGauge(C.GatewayAvailableWorkers.Name, () => services.GetRequiredService<Yarp.ReverseProxy.IProxyStateLookup>().GetClusters()
            .Select(cluster => new Measurement<int>(cluster.DestinationsState.AvailableDestinations.Count, new KeyValuePair<string, object?>("cluster", cluster.ClusterId))),
            description: C.GatewayAvailableWorkers.Description);
        foreach (var reason in C.GatewayRoutingDecisions.EnumeratedLabels["reason"])
        {
            _routed.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    /// <summary>The load-aware policy picked a worker, and why.</summary>
    public void Routed(string reason) => _routed.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>The worker a destination is: service discovery names resolved destinations "worker0[http://host:port/]".</summary>
    public static string Upstream(Yarp.ReverseProxy.Model.DestinationState? destination) => destination?.DestinationId.Split('[')[0] ?? "none";

    /// <summary>A request that failed on <paramref name="upstream"/> before its first byte was sent to another worker.</summary>
    public void Retry(string upstream) => _retries.Add(1, new KeyValuePair<string, object?>("upstream", upstream));

    /// <summary>A stream from <paramref name="upstream"/> broke after it started; the client got an error event.</summary>
    public void BrokenStream(string upstream) => _brokenStreams.Add(1, new KeyValuePair<string, object?>("upstream", upstream));

    /// <summary>The P/D decisions exist at zero from start-up, so a rate shows 0 rather than nothing.</summary>
    public void PrefillDecodeEnabled()
    {
        foreach (var decision in C.GatewayPrefillDecodeRequests.EnumeratedLabels["decision"])
        {
            _prefillDecode.Add(0, new KeyValuePair<string, object?>("decision", decision));
        }
    }

    public void PrefillDecode(string decision) => _prefillDecode.Add(1, new KeyValuePair<string, object?>("decision", decision));

    public void PrefillLeg(long startTimestamp) => _prefillLeg.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    public void RequestStart(string route) => _inFlight.Add(1, new KeyValuePair<string, object?>("route", route));

    public void FirstByte(string route, string upstream, long startTimestamp, string? requestId) =>
        _timeToFirstByte.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds,
            Tags(requestId, new("route", route), new("upstream", upstream)));

    public void RequestStop(string route, int status, string upstream, string? requestId)
    {
        _inFlight.Add(-1, new KeyValuePair<string, object?>("route", route));
        _requests.Add(1, Tags(requestId, new("route", route), new("status", status.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("upstream", upstream)));
    }

    /// <summary>The series labels, plus request_id when exemplars are on: the view keeps only the catalog's label keys, so it becomes the exemplar's.</summary>
    private KeyValuePair<string, object?>[] Tags(string? requestId, params KeyValuePair<string, object?>[] labels) =>
        _exemplars && requestId is not null ? [.. labels, new("request_id", requestId)] : labels;
}

public static class GatewayMetricsMiddleware
{
    /// <summary>Times each proxied request; the first write to the client's body marks the upstream's first byte.</summary>
    public static IReverseProxyApplicationBuilder UseGatewayMetrics(this IReverseProxyApplicationBuilder proxy)
    {
        var metrics = proxy.ApplicationServices.GetRequiredService<GatewayMetrics>();
        proxy.Use(async (http, next) =>
        {
            var feature = http.GetReverseProxyFeature();
            var route = feature.Route.Config.RouteId;
            var started = Stopwatch.GetTimestamp();
            string Upstream() => GatewayMetrics.Upstream(feature.ProxiedDestination);
            var body = http.Response.Body;
            var requestId = RequestIds.Find(http);
            http.Response.Body = new FirstWriteStream(body, () => metrics.FirstByte(route, Upstream(), started, requestId));
            metrics.RequestStart(route);
            try
            {
                await next();
            }
            finally
            {
                http.Response.Body = body;
                metrics.RequestStop(route, http.Response.StatusCode, Upstream(), requestId);
            }
        });
        return proxy;
    }
}
