using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using ServiceDefaults.Metrics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using MetricsContract;

namespace Microsoft.Extensions.Hosting;

public static partial class Extensions
{
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var metricsPolicy = MetricsPolicy.From(builder.Configuration);
        builder.Services.AddSingleton(metricsPolicy);
        builder.Services.AddSingleton<RouterView>();
        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddCatalogMetrics(metricsPolicy))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(aspNet =>
                    // Probes and scrapes would drown the request traces.
                    aspNet.Filter = context => !IsInfrastructurePath(context.Request.Path))
                // The gateway's health probes and load polls too, on the client side.
                .AddHttpClientInstrumentation(http =>
                    http.FilterHttpRequestMessage = request => request.RequestUri is not { } uri || !IsInfrastructurePath(uri.AbsolutePath)));

        builder.AddOpenTelemetryExporters();
        return builder;
    }

    /// <summary>The catalog's meters, their one view, exemplars when asked for, and the Prometheus exporter (<see cref="ScrapeEndpoint.ConfigureExporter"/>).</summary>
    private static MeterProviderBuilder AddCatalogMetrics(this MeterProviderBuilder metrics, MetricsPolicy policy) =>
        metrics
            .AddMeter(MetricCatalog.VllmMeter, MetricCatalog.VellumMeter)
            .ConfigureServices(services => services.ConfigureOpenTelemetryMeterProvider((provider, deferred) =>
            {
                var meterFactory = provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
                deferred.AddView(instrument => CatalogView.Configure(instrument, policy, meterFactory));
            }))
            .SetExemplarFilter(policy.EnableExemplars ? ExemplarFilterType.AlwaysOn : ExemplarFilterType.AlwaysOff)
            .AddPrometheusExporter(ScrapeEndpoint.ConfigureExporter);

    private static bool IsInfrastructurePath(string path) => IsInfrastructurePath(new Microsoft.AspNetCore.Http.PathString(path));

    private static bool IsInfrastructurePath(Microsoft.AspNetCore.Http.PathString path) =>
        path.StartsWithSegments(HealthEndpointPath) || path.StartsWithSegments(AlivenessEndpointPath) || path.StartsWithSegments(ScrapeEndpoint.Path);

    private static TBuilder AddOpenTelemetryExporters<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        // Aspire sets OTEL_EXPORTER_OTLP_ENDPOINT to the dashboard; without it nothing is exported.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }
        return builder;
    }
}
