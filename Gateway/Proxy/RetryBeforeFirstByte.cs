using System.Net;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Proxy;

/// <summary>
/// A request that failed before any byte reached the client (the worker refused the connection, reset it, timed out
/// before its headers, or answered 502/503/504 while going down) is sent again, once by default, to a worker not yet
/// tried; the failed worker is already out of rotation (<see cref="FirstFailurePolicy"/>). Runs before load balancing,
/// so the retry is balanced over what is left.
/// </summary>
internal static class RetryBeforeFirstByte
{
    /// <summary>The request's retry state, a typed feature: retries left, and the status held back from the client.</summary>
    private sealed class RetryState
    {
        public int RetriesLeft { get; set; }

        public int? HeldBackStatus { get; set; }
    }

    private static readonly HashSet<ForwarderError> TransportErrors =
        [ForwarderError.Request, ForwarderError.RequestTimedOut, ForwarderError.RequestBodyDestination, ForwarderError.ResponseHeaders];

    public static IReverseProxyApplicationBuilder UseRetryBeforeFirstByte(this IReverseProxyApplicationBuilder proxy)
    {
        var options = proxy.ApplicationServices.GetRequiredService<IOptions<UpstreamOptions>>();
        var metrics = proxy.ApplicationServices.GetRequiredService<GatewayMetrics>();
        proxy.Use(async (http, next) =>
        {
            await ProxiedRequest.BufferAsync(http);
            var feature = http.GetReverseProxyFeature();
            var candidates = feature.AvailableDestinations;
            var state = new RetryState { RetriesLeft = options.Value.Retries };
            http.Features.Set(state);
            await next();
            while (state.RetriesLeft > 0 && FailedBeforeFirstByte(http, state))
            {
                var failed = feature.ProxiedDestination;
                candidates = candidates.Where(d => d != failed && d.Health.Passive != DestinationHealth.Unhealthy).ToArray();
                if (candidates.Count == 0)
                {
                    break;
                }
                metrics.Retry(GatewayMetrics.Upstream(failed));
                http.Features.Set<IForwarderErrorFeature>(null);
                state.HeldBackStatus = null;
                state.RetriesLeft--;
                http.Response.Clear();
                ProxiedRequest.Rewind(http);
                feature.AvailableDestinations = candidates;
                await next();
            }
            if (state.HeldBackStatus is { } status && !http.Response.HasStarted)
            {
                // Held back for a retry that found no other worker: the client gets the status, with an OpenAI error.
                http.Response.Clear();
                await OpenAiProxyErrors.WriteAsync(http, status, "Every worker that could serve this request failed or is going down; retry shortly.",
                    "upstream_unavailable");
            }
        });
        return proxy;
    }

    /// <summary>
    /// A response transform: a worker's 502/503/504 is held back (its body not copied) while the request may still be
    /// retried, so the client sees the retry's answer instead.
    /// </summary>
    public static ValueTask HoldBackGatewayErrors(ResponseTransformContext context)
    {
        if (context.ProxyResponse?.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout
            && context.HttpContext.Features.Get<RetryState>() is { RetriesLeft: > 0 } state)
        {
            context.SuppressResponseBody = true;
            state.HeldBackStatus = (int)context.ProxyResponse.StatusCode;
        }
        return ValueTask.CompletedTask;
    }

    private static bool FailedBeforeFirstByte(HttpContext http, RetryState state) =>
        !http.Response.HasStarted
        && (http.Features.Get<IForwarderErrorFeature>() is { } error && TransportErrors.Contains(error.Error) || state.HeldBackStatus is not null);
}
