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
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddServiceDiscoveryDestinationResolver();
        return builder;
    }

    public static WebApplication MapWorkerProxy(this WebApplication app)
    {
        app.MapReverseProxy(proxy =>
        {
            proxy.UseGatewayMetrics();
            proxy.UseOpenAiProxyErrors();
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });
        return app;
    }
}
