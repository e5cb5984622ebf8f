using Microsoft.Extensions.Configuration;

namespace AppHost;

internal static class Observability
{
    /// <summary>
    /// Prometheus and Grafana. Deployed (publish mode): the prom/prometheus and grafana containers, with the
    /// config, datasource and dashboards in this folder. Locally: Debian's prometheus as an executable when it
    /// is installed (no Docker needed; --LocalPrometheus false skips it), scraping every service of this run.
    /// </summary>
    public static void AddPrometheusAndGrafana(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> gateway, IReadOnlyList<IResourceBuilder<ProjectResource>> workers)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            var prometheus = builder.AddContainer("prometheus", "prom/prometheus", "v3.5.0")
                .WithBindMount("prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml", isReadOnly: true)
                .WithArgs("--config.file=/etc/prometheus/prometheus.yml", "--enable-feature=exemplar-storage", "--web.enable-otlp-receiver")
                .WithHttpEndpoint(targetPort: 9090, name: "http");
            builder.AddContainer("grafana", "grafana/grafana", "12.1.0")
                .WithBindMount("grafana/provisioning", "/etc/grafana/provisioning", isReadOnly: true)
                .WithBindMount("grafana/dashboards", "/var/lib/grafana/dashboards", isReadOnly: true)
                .WithEnvironment("PROMETHEUS_URL", prometheus.GetEndpoint("http"))
                .WithHttpEndpoint(targetPort: 3000, name: "http")
                .WithExternalHttpEndpoints();
            return;
        }

        if (!builder.Configuration.GetValue("LocalPrometheus", true) || !File.Exists("/usr/bin/prometheus"))
        {
            return;
        }
        var local = builder.AddExecutable("prometheus", "bash", builder.AppHostDirectory, "prometheus/run-local-prometheus.sh")
            .WithHttpEndpoint(env: "PROM_PORT", name: "http")
            .WithHttpHealthCheck("/-/ready")
            .WithEnvironment("SCRAPE_GATEWAY", gateway.GetEndpoint("http").Property(EndpointProperty.HostAndPort))
            .ExcludeFromManifest();
        foreach (var worker in workers)
        {
            local.WithEnvironment("SCRAPE_" + worker.Resource.Name.ToUpperInvariant(), worker.GetEndpoint("http").Property(EndpointProperty.HostAndPort));
        }
    }
}
