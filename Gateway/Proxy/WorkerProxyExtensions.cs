using Gateway.PrefillDecode;
using Gateway.Routing;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Proxy;

public static class WorkerProxyExtensions
{
    /// <summary>
    /// YARP from the "ReverseProxy" configuration section. Destinations are service names
    /// (https+http://worker0) that Aspire's service discovery resolves to each worker's own address.
    /// </summary>
    public static WebApplicationBuilder AddWorkerProxy(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<GatewayMetrics>();
        builder.Services.AddGatewayHttpClients();
        builder.Services.Configure<PrefillDecodeOptions>(builder.Configuration.GetSection(PrefillDecodeOptions.Section));
        builder.Services.AddSingleton<PrefillDecodeLegs>();
        builder.Services.Configure<UpstreamOptions>(builder.Configuration.GetSection(UpstreamOptions.Section));
        builder.Services.AddSingleton<Yarp.ReverseProxy.Forwarder.IForwarderHttpClientFactory, UpstreamHttpClientFactory>();
        builder.Services.AddSingleton<Yarp.ReverseProxy.Health.IPassiveHealthCheckPolicy, FirstFailurePolicy>();
        builder.Services.Configure<RoutingOptions>(builder.Configuration.GetSection(RoutingOptions.Section));
        builder.Services.AddSingleton<WorkerLoads>();
        builder.Services.AddSingleton<Yarp.ReverseProxy.LoadBalancing.ILoadBalancingPolicy, LoadAwarePolicy>();
        builder.Services.AddHostedService<WorkerLoadPoller>();
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddServiceDiscoveryDestinationResolver()
            .AddTransforms(transforms =>
            {
                transforms.AddRequestTransform(ProxiedRequest.MarkStreaming);
                transforms.AddRequestTransform(EndpointLoadReports.Ask);
                transforms.AddResponseTransform(EndpointLoadReports.Read);
                transforms.AddResponseTransform(RetryBeforeFirstByte.HoldBackGatewayErrors);
                transforms.AddResponseTransform(BrokenStreamEnding.EndBrokenStreamsWithAnErrorEvent);
            });
        return builder;
    }

    /// <summary>P/D: after load balancing has picked the decode worker, a long prompt is prefilled on a prefill worker first.</summary>
    private static void UsePrefillDecode(this IReverseProxyApplicationBuilder proxy)
    {
        var legs = proxy.ApplicationServices.GetRequiredService<PrefillDecodeLegs>();
        var prefillCluster = proxy.ApplicationServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<PrefillDecodeOptions>>().Value.PrefillCluster;
        if (proxy.ApplicationServices.GetRequiredService<IConfiguration>().GetSection($"ReverseProxy:Clusters:{prefillCluster}:Destinations").GetChildren().Any())
        {
            proxy.ApplicationServices.GetRequiredService<GatewayMetrics>().PrefillDecodeEnabled();
        }
        proxy.Use(legs.InvokeAsync);
    }

    public static WebApplication MapWorkerProxy(this WebApplication app)
    {
        app.MapReverseProxy(proxy =>
        {
            proxy.UseGatewayMetrics();
            proxy.UseOpenAiProxyErrors();
            proxy.UseRetryBeforeFirstByte();
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePrefillDecode();
            proxy.UsePassiveHealthChecks();
        });
        return app;
    }
}
