using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Yarp.ReverseProxy;

namespace Gateway.Access;

/// <summary>GET /v1/models through the gateway: the models of the whole fleet (every available worker's, each id once), not of one worker.</summary>
internal static class FleetModels
{
    public static IEndpointRouteBuilder MapFleetModels(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/v1/models", ListAsync).WithName("ListFleetModels");
        return routes;
    }

    private static async Task<IResult> ListAsync(IProxyStateLookup proxyState, IHttpClientFactory clients, CancellationToken cancellationToken)
    {
        var client = clients.CreateClient(Proxy.GatewayHttpClients.FleetModels);
        var workers = proxyState.GetClusters().SelectMany(c => c.DestinationsState.AvailableDestinations).Select(d => d.Model.Config.Address).Distinct();
        var answers = await Task.WhenAll(workers.Select(async address =>
        {
            try
            {
                return await client.GetFromJsonAsync<JsonObject>(new Uri(new Uri(address), "/v1/models"), cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
            {
                return null; // a worker that cannot say is left out; its health checks deal with it
            }
        }));
        var models = answers.Where(a => a?["data"] is JsonArray).SelectMany(a => a!["data"]!.AsArray())
            .GroupBy(m => m?["id"]?.GetValue<string>()).Where(g => g.Key is not null).Select(g => g.First()!.DeepClone()).ToArray();
        if (models.Length == 0)
        {
            return Results.Json(new { error = new { message = "No worker is available to list its models.", type = "server_error", param = (string?)null, code = "upstream_unavailable" } },
                statusCode: 503);
        }
        return Results.Json(new JsonObject { ["object"] = "list", ["data"] = new JsonArray(models) });
    }
}
