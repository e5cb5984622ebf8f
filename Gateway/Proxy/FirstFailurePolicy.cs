using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Gateway.Proxy;

/// <summary>
/// Passive health ("FirstFailure"): a worker that fails a request at the transport (refused, reset, no headers in
/// time, its body broken off) or answers 502/503/504 is out of rotation at once, for the cluster's ReactivationPeriod;
/// then it is tried again, and the active health checks have been probing it meanwhile. YARP's TransportFailureRate
/// waits for a failure rate over a window, sending more requests to a dead worker first.
/// </summary>
internal sealed class FirstFailurePolicy(IDestinationHealthUpdater health) : IPassiveHealthCheckPolicy
{
    public const string PolicyName = "FirstFailure";
    private static readonly TimeSpan DefaultReactivationPeriod = TimeSpan.FromSeconds(10);

    private static readonly HashSet<ForwarderError> WorkerFailures =
    [
        ForwarderError.Request, ForwarderError.RequestTimedOut, ForwarderError.RequestBodyDestination, ForwarderError.ResponseHeaders,
        ForwarderError.ResponseBodyDestination,
    ];

    public string Name => PolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
        var failed = context.Features.Get<IForwarderErrorFeature>() is { } error && WorkerFailures.Contains(error.Error)
            || context.Response.StatusCode is StatusCodes.Status502BadGateway or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status504GatewayTimeout
               && context.Features.Get<IForwarderErrorFeature>() is null;
        if (failed)
        {
            health.SetPassive(cluster, destination, DestinationHealth.Unhealthy,
                cluster.Model.Config.HealthCheck?.Passive?.ReactivationPeriod ?? DefaultReactivationPeriod);
        }
    }
}
