using AppHost;
using MetricsContract;
using Microsoft.Extensions.Configuration;

var builder = DistributedApplication.CreateBuilder(args);

var gateway = builder.AddProject<Projects.Gateway>("gateway")
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints()
    .WithSettings(builder, "Metrics", "Upstream", "Routing", "PrefillDecode");

// "WorkerCount" workers serve every request; with "PrefillWorkerCount" > 0 the topology is P/D: those workers become the
// decode pool (kv_consumer) and the gateway prefills long prompts on the prefill workers (kv_producer) first.
var prefillCount = builder.Configuration.GetValue("PrefillWorkerCount", 0);
var workers = builder.AddWorkers("worker", builder.Configuration.GetValue("WorkerCount", 2), prefillCount > 0 ? KvTransferContract.Consumer : null).ToList();
var prefillWorkers = builder.AddWorkers("prefill", prefillCount, KvTransferContract.Producer).ToList();
foreach (var worker in workers)
{
    gateway.WithWorkerDestination(worker);
}
foreach (var worker in prefillWorkers)
{
    gateway.WithWorkerDestination(worker, "prefill");
}

builder.AddPrometheusAndGrafana(gateway, [.. workers, .. prefillWorkers]);

builder.Build().Run();
