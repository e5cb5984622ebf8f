using AppHost;

var builder = DistributedApplication.CreateBuilder(args);

var gateway = builder.AddProject<Projects.Gateway>("gateway")
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

var workers = builder.AddWorkers().ToList();
foreach (var worker in workers)
{
    gateway.WithWorkerDestination(worker);
}

builder.AddPrometheusAndGrafana(gateway, workers);

builder.Build().Run();
