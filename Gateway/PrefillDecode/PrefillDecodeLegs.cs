using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Proxy;
using MetricsContract;
using Gateway.Routing;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Gateway.PrefillDecode;

/// <summary>
/// P/D as vLLM's proxy and llm-d's sidecar run it, in the proxy pipeline after load balancing has picked the decode
/// worker. A generation request whose prompt has enough uncached tokens (prompt tokens from the decode worker's
/// /tokenize, less the blocks the gateway estimates it holds) first goes to a prefill worker as the prefill leg
/// (max_tokens 1, stream false, kv_transfer_params.do_remote_decode), then to the decode worker as the decode leg
/// (the client's own body and stream, plus the kv_transfer_params the prefill worker answered with), both with the
/// request's X-Request-Id. A prefill leg that fails lets the decode worker prefill alone; one that refuses the
/// request (4xx) answers the client.
/// </summary>
internal sealed partial class PrefillDecodeLegs(
    IProxyStateLookup proxyState,
    IEnumerable<ILoadBalancingPolicy> policies,
    IOptions<PrefillDecodeOptions> options,
    GatewayMetrics metrics,
    IHttpClientFactory clients,
    ILogger<PrefillDecodeLegs> logger)
{
    private static readonly string[] GenerationPaths = ["/v1/completions", "/v1/chat/completions"];

    /// <summary>The legs' own client: a prefill leg is not retried (the decode worker takes over instead) and may take long.</summary>
    private readonly HttpClient _client = clients.CreateClient(GatewayHttpClients.PrefillDecode);
    private readonly PrefixIndex _decodeCaches = new(options.Value.BlockSize);

    public async Task InvokeAsync(HttpContext http, Func<Task> next)
    {
        var settings = options.Value;
        if (!HttpMethods.IsPost(http.Request.Method) || !GenerationPaths.Contains(http.Request.Path.Value)
            || !proxyState.TryGetCluster(settings.PrefillCluster, out var prefillCluster)
            || prefillCluster.DestinationsState.AvailableDestinations.Count == 0
            || http.GetReverseProxyFeature().AvailableDestinations is not [var decode])
        {
            await next();
            return;
        }

        // The body as the gateway read it once (ProxiedRequest); the decode leg sends a copy with the prefill's answer.
        if ((await ProxiedRequest.BufferAsync(http)).Body?.DeepClone() is not JsonObject body || body.ContainsKey(KvTransferContract.Field)
            || await TokenizeAsync(decode, body, http) is not { } tokens)
        {
            await next(); // not a request this gateway splits (malformed, already P/D, or not tokenizable): the decode worker answers it
            return;
        }
        if (NeedsPromptLogits(body))
        {
            metrics.PrefillDecode("prompt_logprobs");
            await next();
            return;
        }
        var worker = decode.DestinationId;
        var uncached = tokens.Count - _decodeCaches.MatchedTokens(worker, tokens);
        _decodeCaches.Record(worker, tokens);
        if (settings.MinUncachedPromptTokens == 0 || uncached < settings.MinUncachedPromptTokens)
        {
            metrics.PrefillDecode("short_prompt");
            await next();
            return;
        }

        var prefill = PickPrefillWorker(http, prefillCluster);
        var started = Stopwatch.GetTimestamp();
        var (kvTransferParams, refusal) = await PrefillAsync(prefill, body, http);
        metrics.PrefillLeg(started);
        if (refusal is not null)
        {
            metrics.PrefillDecode("prefill_refused");
            http.Response.StatusCode = (int)refusal.StatusCode;
            http.Response.ContentType = refusal.Content.Headers.ContentType?.ToString() ?? "application/json";
            await refusal.Content.CopyToAsync(http.Response.Body, http.RequestAborted);
            refusal.Dispose();
            return;
        }
        if (kvTransferParams is null)
        {
            metrics.PrefillDecode("prefill_failed");
            await next();
            return;
        }
        body[KvTransferContract.Field] = kvTransferParams;
        ProxiedRequest.Of(http).Body = body;
        SetBody(http.Request, JsonSerializer.SerializeToUtf8Bytes(body));
        metrics.PrefillDecode("split");
        await next();
    }

    /// <summary>
    /// The answer lists the prompt's logprobs (prompt_logprobs, or echo with logprobs): they come from the prompt's
    /// logits, which only a worker that computes the prompt has; a decode leg reads its KV instead.
    /// </summary>
    private static bool NeedsPromptLogits(JsonObject body) =>
        body["prompt_logprobs"] is not null
        || (body["echo"] is JsonValue echo && echo.TryGetValue<bool>(out var echoed) && echoed && body["logprobs"] is not null);

    /// <summary>
    /// The prefill leg, as vLLM's proxy sends it. Returns the kv_transfer_params the prefill worker answered with; null
    /// when the leg failed or held nothing (the decode worker then prefills); or the worker's 4xx response to pass on.
    /// </summary>
    private async Task<(JsonNode? KvTransferParams, HttpResponseMessage? Refusal)> PrefillAsync(DestinationState prefill, JsonObject body, HttpContext http)
    {
        var leg = (JsonObject)body.DeepClone();
        leg[KvTransferContract.Field] = JsonSerializer.SerializeToNode(KvTransferContract.PrefillLeg());
        leg["stream"] = false;
        leg["max_tokens"] = 1;
        if (leg.ContainsKey("max_completion_tokens"))
        {
            leg["max_completion_tokens"] = 1;
        }
        leg.Remove("stream_options");
        leg.Remove("min_tokens");
        leg.Remove("min_completion_tokens");
        leg.Remove("include_metrics"); // the client's timing is the decode leg's; the prefill worker need not offer it

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(prefill.Model.Config.Address), http.Request.Path.Value))
        {
            Content = JsonContent.Create(leg),
        };
        request.Headers.TryAddWithoutValidation(RequestIds.Header, http.Request.Headers[RequestIds.Header].ToString());
        if (http.Request.Headers.Authorization is { Count: > 0 } authorization)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization.ToString());
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(options.Value.PrefillTimeout);
        CountLeg(prefill, +1);
        try
        {
            var response = await _client.SendAsync(request, timeout.Token);
            if ((int)response.StatusCode is >= 400 and < 500)
            {
                return (null, response);
            }
            using (response)
            {
                if (!response.IsSuccessStatusCode)
                {
                    Log.PrefillFailed(logger, prefill.DestinationId, $"HTTP {(int)response.StatusCode}");
                    return (null, null);
                }
                var answer = await response.Content.ReadFromJsonAsync<JsonObject>(timeout.Token);
                return (answer?[KvTransferContract.Field]?.DeepClone(), null);
            }
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException && !http.RequestAborted.IsCancellationRequested)
        {
            Log.PrefillFailed(logger, prefill.DestinationId, e.Message);
            return (null, null);
        }
        finally
        {
            CountLeg(prefill, -1);
        }
    }

    /// <summary>The prompt's token ids from the decode worker's /tokenize (vLLM's), or null when it cannot say.</summary>
    private async Task<IReadOnlyList<int>?> TokenizeAsync(DestinationState decode, JsonObject body, HttpContext http)
    {
        var question = new JsonObject { ["model"] = body["model"]?.DeepClone() };
        if (body["messages"] is { } messages)
        {
            question["messages"] = messages.DeepClone();
        }
        else if (body["prompt"] is { } prompt)
        {
            question["prompt"] = prompt.DeepClone();
        }
        else
        {
            return null;
        }
        try
        {
            using var response = await _client.PostAsJsonAsync(new Uri(new Uri(decode.Model.Config.Address), "/tokenize"), question, http.RequestAborted);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            var answer = await response.Content.ReadFromJsonAsync<JsonObject>(http.RequestAborted);
            return answer?["tokens"]?.AsArray().Select(t => t!.GetValue<int>()).ToArray();
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private DestinationState PickPrefillWorker(HttpContext http, ClusterState cluster)
    {
        var available = cluster.DestinationsState.AvailableDestinations;
        var name = cluster.Model.Config.LoadBalancingPolicy ?? LoadBalancingPolicies.PowerOfTwoChoices;
        var policy = policies.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        return policy?.PickDestination(http, cluster, available) ?? available[0];
    }

    /// <summary>
    /// A prefill leg in flight on a destination, counted where the prefill cluster's policy reads it. Only the legs
    /// count there (no route proxies to the prefill cluster), and under one lock per destination no two legs' read,
    /// add and write interleave (a bare ++ on ConcurrentRequestCount is not atomic).
    /// </summary>
    private static void CountLeg(DestinationState destination, int change)
    {
        lock (destination)
        {
            destination.ConcurrentRequestCount += change;
        }
    }

    /// <summary>What the proxy forwards: the body as read (or rewritten), with its length.</summary>
    private static void SetBody(HttpRequest request, byte[] body)
    {
        request.Body = new MemoryStream(body);
        request.ContentLength = body.Length;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The prefill leg on {Worker} failed ({Why}); the decode worker prefills the request itself.")]
        public static partial void PrefillFailed(ILogger logger, string worker, string why);
    }
}
