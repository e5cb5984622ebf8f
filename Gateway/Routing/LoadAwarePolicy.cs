using Gateway.Proxy;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Gateway.Routing;

/// <summary>
/// YARP load balancing ("LoadAware") on the workers' own signals. A request whose prompt starts like one a worker
/// was sent goes to that worker (it most likely holds the prefix: the turns of one chat, one system prompt) unless
/// that worker is saturated; otherwise to the worker whose fresh reading costs least (waiting, running, KV usage, and
/// what the gateway sent it since, and for a LoRA adapter GAIE's affinity: see <see cref="WorkerLoads.Cost"/>); with
/// any reading stale, to the worker with the fewest requests in flight from the gateway. Ties go to a random one of the
/// tied. Prefixes are per model: a prefix computed under one adapter is not another's (nor the base's).
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
        var request = ProxiedRequest.Of(context);
        var prompt = request.Prompt is { } text ? $"{request.Model}\n{text}".Select(c => (int)c).ToArray() : null;
        var (chosen, reason) = Choose(availableDestinations, prompt, request.Model);
        if (prompt is not null)
        {
            _prefixes.Record(Address(chosen), prompt);
        }
        metrics.Routed(reason);
        return chosen;
    }

    private (DestinationState Chosen, string Reason) Choose(IReadOnlyList<DestinationState> available, int[]? prompt, string? model)
    {
        if (available.Count == 1)
        {
            return (available[0], "only");
        }
        if (prompt is not null && _prefixes.Best(available.Select(Address), prompt) is { } holder && !loads.IsSaturated(holder))
        {
            return (available.First(d => Address(d) == holder), "prefix");
        }
        var costs = available.Select(d => loads.Cost(Address(d), d.ConcurrentRequestCount, model)).ToArray();
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
