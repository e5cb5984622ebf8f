using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Yarp.ReverseProxy;

namespace Gateway.Access;

/// <summary>
/// The models of the whole fleet, as every available worker's /v1/models lists them (each id once): what GET /v1/models
/// through the gateway answers, and each model's max_model_len, by which the key gate weighs a chat request that leaves
/// max_tokens to the worker (the worker gives it the rest of the context).
/// </summary>
internal sealed class FleetModels(IProxyStateLookup proxyState, IHttpClientFactory clients)
{
    /// <summary>How long a model's max_model_len is trusted before the fleet is asked again.</summary>
    private static readonly TimeSpan ContextLengthsTtl = TimeSpan.FromSeconds(30);

    private (Dictionary<string, int> Lengths, long ReadAt)? _contextLengths;

    public async Task<JsonObject[]> ListAsync(CancellationToken cancellationToken)
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
        return answers.Where(a => a?["data"] is JsonArray).SelectMany(a => a!["data"]!.AsArray()).OfType<JsonObject>()
            .GroupBy(m => m["id"] is JsonValue id && id.TryGetValue<string>(out var name) ? name : null).Where(g => g.Key is not null)
            .Select(g => (JsonObject)g.First().DeepClone()).ToArray();
    }

    /// <summary>
    /// The model's max_model_len as its workers report it; for a model no worker lists (the worker will refuse it), the
    /// longest in the fleet; null when no worker answers.
    /// </summary>
    public async Task<int?> MaxModelLengthAsync(string? model, CancellationToken cancellationToken)
    {
        var known = _contextLengths;
        if (known is not { } cached || System.Diagnostics.Stopwatch.GetElapsedTime(cached.ReadAt) > ContextLengthsTtl || model is null || !cached.Lengths.ContainsKey(model))
        {
            var lengths = new Dictionary<string, int>();
            foreach (var listed in await ListAsync(cancellationToken))
            {
                if (listed["max_model_len"] is JsonValue length && length.TryGetValue<int>(out var tokens))
                {
                    lengths[listed["id"]!.GetValue<string>()] = tokens;
                }
            }
            known = _contextLengths = (lengths, System.Diagnostics.Stopwatch.GetTimestamp());
        }
        var read = known!.Value.Lengths;
        return model is not null && read.TryGetValue(model, out var found) ? found : read.Count > 0 ? read.Values.Max() : null;
    }
}
