using MetricsContract;
using Microsoft.Extensions.Configuration;

namespace AppHost;

internal static class Extensions
{
    /// <summary>The TCP port a deployed prefill worker serves its held KV on (vLLM's default kv_port).</summary>
    private const int DeployedKvPort = 14579;

    /// <summary>
    /// Adds <paramref name="count"/> workers named <paramref name="prefix"/>0, 1, …, each its own resource with its own
    /// address, so that the gateway sees every worker as a destination and can route by each one's load. (WithReplicas
    /// would put them behind one proxy address that balances per connection.) Settings under "Worker" in the AppHost's
    /// configuration (--Worker:MaxNumSeqs 4, --Worker:Model /models/x) pass through to every worker; a
    /// <paramref name="kvRole"/> gives each a --kv-transfer-config for that side of a P/D split.
    /// </summary>
    public static IEnumerable<IResourceBuilder<ProjectResource>> AddWorkers(this IDistributedApplicationBuilder builder, string prefix, int count, string? kvRole = null)
    {
        for (var i = 0; i < count; i++)
        {
            var name = prefix + i;
            // No launch profile: its fixed port would collide between workers; each gets its own endpoint.
            var worker = builder.AddProject<Projects.Worker>(name, launchProfileName: null)
                .WithHttpEndpoint(name: "http")
                .WithHttpHealthCheck("/health");
            worker.WithSettings(builder, "Worker", "Metrics");
            if (kvRole is not null)
            {
                worker.WithEnvironment("Worker__KvTransferConfig", KvTransferConfig(builder, worker, kvRole));
            }
            yield return worker;
        }
    }

    /// <summary>
    /// A worker's --kv-transfer-config. Run locally, a producer serves its KV on a free port of 127.0.0.1 (its answers
    /// name the port); deployed, on vLLM's port 14579 of every address, advertised under the worker's service name.
    /// </summary>
    private static string KvTransferConfig(IDistributedApplicationBuilder builder, IResourceBuilder<ProjectResource> worker, string kvRole)
    {
        if (kvRole == KvTransferContract.Consumer)
        {
            return KvTransferContract.Config(kvRole);
        }
        if (!builder.ExecutionContext.IsPublishMode)
        {
            return KvTransferContract.Config(kvRole, ip: "127.0.0.1", port: 0);
        }
        worker.WithEndpoint(targetPort: DeployedKvPort, scheme: "tcp", name: "kv");
        return KvTransferContract.Config(kvRole, ip: "0.0.0.0", port: DeployedKvPort, advertiseHost: worker.Resource.Name);
    }

    /// <summary>Passes the AppHost's settings under <paramref name="sections"/> (--Metrics:EnableExemplars true) to a service, as environment variables.</summary>
    public static IResourceBuilder<ProjectResource> WithSettings(this IResourceBuilder<ProjectResource> service, IDistributedApplicationBuilder builder,
        params string[] sections)
    {
        foreach (var setting in sections.SelectMany(section => builder.Configuration.GetSection(section).AsEnumerable()).Where(setting => setting.Value is not null))
        {
            service.WithEnvironment(setting.Key.Replace(":", "__"), setting.Value);
        }
        return service;
    }

    /// <summary>Registers a worker as a destination of one of the gateway's clusters ("workers", or "prefill" in P/D) and starts the gateway after it.</summary>
    public static IResourceBuilder<ProjectResource> WithWorkerDestination(
        this IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ProjectResource> worker, string cluster = "workers") =>
        gateway.WithReference(worker)
            .WaitFor(worker)
            .WithEnvironment($"ReverseProxy__Clusters__{cluster}__Destinations__{worker.Resource.Name}__Address", "https+http://" + worker.Resource.Name);
}
