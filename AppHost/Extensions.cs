using Microsoft.Extensions.Configuration;

namespace AppHost;

internal static class Extensions
{
    /// <summary>
    /// Adds "WorkerCount" workers (default 2), each its own resource with its own address, so that the gateway
    /// sees every worker as a destination and can route by each one's load. (WithReplicas would put them behind
    /// one proxy address that balances per connection.) Settings under "Worker" in the AppHost's configuration
    /// (--Worker:MaxNumSeqs 4, --Worker:Model /models/x) pass through to every worker.
    /// </summary>
    public static IEnumerable<IResourceBuilder<ProjectResource>> AddWorkers(this IDistributedApplicationBuilder builder)
    {
        var count = builder.Configuration.GetValue("WorkerCount", 2);
        var settings = new[] { "Worker", "Metrics" }
            .SelectMany(section => builder.Configuration.GetSection(section).AsEnumerable()
                .Where(setting => setting.Value is not null)
                .Select(setting => (Key: setting.Key, setting.Value)))
            .ToArray();

        for (var i = 0; i < count; i++)
        {
            // No launch profile: its fixed port would collide between workers; each gets its own endpoint.
            var worker = builder.AddProject<Projects.Worker>("worker" + i, launchProfileName: null)
                .WithHttpEndpoint(name: "http")
                .WithHttpHealthCheck("/health");
            foreach (var (key, value) in settings)
            {
                worker.WithEnvironment(key.Replace(":", "__"), value);
            }
            yield return worker;
        }
    }

    /// <summary>Registers a worker as a destination of the gateway's "workers" cluster and starts the gateway after it.</summary>
    public static IResourceBuilder<ProjectResource> WithWorkerDestination(
        this IResourceBuilder<ProjectResource> gateway, IResourceBuilder<ProjectResource> worker) =>
        gateway.WithReference(worker)
            .WaitFor(worker)
            .WithEnvironment("ReverseProxy__Clusters__workers__Destinations__" + worker.Resource.Name + "__Address", "https+http://" + worker.Resource.Name);
}
