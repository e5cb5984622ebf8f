namespace Gateway.Proxy;

/// <summary>
/// The gateway's own calls to workers, as named clients of IHttpClientFactory (pooled handlers, the service defaults'
/// service discovery and telemetry). None retries: a load poll that fails goes stale, a failed prefill leg lets the
/// decode worker prefill, a worker that cannot list its models is left out; so the defaults' resilience handler is
/// removed from each.
/// </summary>
internal static class GatewayHttpClients
{
    /// <summary>The P/D legs (prefill and /tokenize): a prefill may take long; PrefillDecode:PrefillTimeout bounds it.</summary>
    public const string PrefillDecode = "prefill-decode";

    /// <summary>The load poller's filtered scrapes: a reading older than a second is worth nothing.</summary>
    public const string LoadPolls = "load-polls";

    /// <summary>GET /v1/models fanned out to every worker.</summary>
    public const string FleetModels = "fleet-models";

    // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it is the documented way to opt one client out
    // of ConfigureHttpClientDefaults' resilience handler, and the package version is pinned.
#pragma warning disable EXTEXP0001
    public static IServiceCollection AddGatewayHttpClients(this IServiceCollection services)
    {
        services.AddHttpClient(PrefillDecode, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1) })
            .RemoveAllResilienceHandlers();
        services.AddHttpClient(LoadPolls, client => client.Timeout = TimeSpan.FromSeconds(1))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1) })
            .RemoveAllResilienceHandlers();
        services.AddHttpClient(FleetModels, client => client.Timeout = TimeSpan.FromSeconds(5))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) })
            .RemoveAllResilienceHandlers();
        return services;
    }
#pragma warning restore EXTEXP0001
}
