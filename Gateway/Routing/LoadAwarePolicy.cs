using Gateway.Proxy;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Gateway.Routing;

/// <summary>
/// YARP load balancing ("LoadAware") on the workers' own signals. A request whose prompt starts like one a worker
/// was sent goes to that worker (it most likely holds the prefix: the turns of one chat, one system prompt) unless
/// that worker is saturated; otherwise to the worker whose fresh reading costs least (waiting, running, KV usage, and
/// what the gateway sent it since); with any reading stale, to the worker with the fewest requests in flight from the
/// gateway. Ties go to a random one of the tied.
/// </summary>
internal sealed class LoadAwarePolicy(WorkerLoads loads, IOptions<RoutingOptions> options, GatewayMetrics metrics) : ILoadBalancingPolicy
{
    public const string PolicyName = "LoadAware";

    private readonly PrefixIndex _prefixes = new(options.Value.PrefixChunkCharacters);

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        if (availableDestinations.Count == 0)
        {
            return null;
        }
        var prompt = ProxiedRequest.Of(context).Prompt?.Select(c => (int)c).ToArray();
        var (chosen, reason) = Choose(availableDestinations, prompt);
        if (prompt is not null)
        {
            _prefixes.Record(Address(chosen), prompt);
        }
        metrics.Routed(reason);
        return chosen;
    }

    private (DestinationState Chosen, string Reason) Choose(IReadOnlyList<DestinationState> available, int[]? prompt)
    {
        if (available.Count == 1)
        {
            return (available[0], "only");
        }
        if (prompt is not null && _prefixes.Best(available.Select(Address), prompt) is { } holder && !loads.IsSaturated(holder))
        {
            return (available.First(d => Address(d) == holder), "prefix");
        }
        var costs = available.Select(d => loads.Cost(Address(d), d.ConcurrentRequestCount)).ToArray();
        return costs.All(c => c is not null)
            ? (Cheapest(available, i => costs[i]!.Value), "load")
            : (Cheapest(available, i => available[i].ConcurrentRequestCount), "least_in_flight");
    }

    private static DestinationState Cheapest(IReadOnlyList<DestinationState> available, Func<int, double> cost)
    {
        var least = Enumerable.Range(0, available.Count).Min(cost);
        var tied = Enumerable.Range(0, available.Count).Where(i => cost(i) == least).ToArray();
        return available[tied[Random.Shared.Next(tied.Length)]];
    }

    private static string Address(DestinationState destination) => destination.Model.Config.Address;
}
