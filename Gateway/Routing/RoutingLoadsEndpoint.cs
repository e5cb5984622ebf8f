using System.Text.Json;

namespace Gateway.Routing;

/// <summary>
/// GET /routing/loads: each worker's load as the load-aware policy sees it now (its last reading, how old, whether
/// trusted), so an operator can tell why a request went where it went, and a test can wait for a reading.
/// </summary>
internal static class RoutingLoadsEndpoint
{
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static IEndpointRouteBuilder MapRoutingLoads(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/routing/loads", (WorkerLoads loads) => Results.Json(loads.Readings(), SnakeCase))
            .WithName("RoutingLoads").WithSummary("Each worker's last load reading, its age and whether it is still trusted.");
        return routes;
    }
}
