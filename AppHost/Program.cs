using AppHost;

var builder = DistributedApplication.CreateBuilder(args);

var gateway = builder.AddProject<Projects.Gateway>("gateway")
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

foreach (var worker in builder.AddWorkers())
{
    gateway.WithWorkerDestination(worker);
}

builder.Build().Run();
