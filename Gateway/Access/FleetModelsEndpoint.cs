using System.Text.Json.Nodes;

namespace Gateway.Access;

/// <summary>GET /v1/models through the gateway: the models of the whole fleet, not of one worker.</summary>
internal static class FleetModelsEndpoint
{
    public static IEndpointRouteBuilder MapFleetModels(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/models", ListAsync).WithName("ListFleetModels");
        return routes;
    }

    private static async Task<IResult> ListAsync(FleetModels fleet, CancellationToken cancellationToken)
    {
        var models = await fleet.ListAsync(cancellationToken);
        if (models.Length == 0)
        {
            return Results.Json(new { error = new { message = "No worker is available to list its models.", type = "server_error", param = (string?)null, code = "upstream_unavailable" } },
                statusCode: 503);
        }
        return Results.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray(models) });
    }
}
