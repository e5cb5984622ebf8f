using System.Text.Json;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Proxy;

/// <summary>
/// The client's request as the gateway keeps it: its body buffered (so a retry can send it again) and whether it asks
/// for a stream (which decides its first-byte timeout and how a broken response ends).
/// </summary>
internal static class ProxiedRequest
{
    public static readonly HttpRequestOptionsKey<bool> StreamingOption = new("vellum.streaming");
    private const string StreamingItem = "vellum.streaming";

    /// <summary>Buffers the body and notes whether it is a JSON request with "stream": true.</summary>
    public static async Task BufferAsync(HttpContext http)
    {
        http.Request.EnableBuffering();
        if (http.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return;
        }
        try
        {
            using var body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
            http.Items[StreamingItem] = body.RootElement.ValueKind == JsonValueKind.Object
                && body.RootElement.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True;
        }
        catch (JsonException)
        {
            // Not JSON after all: the worker says what is wrong with it.
        }
        Rewind(http);
    }

    /// <summary>Sends the body again from its start.</summary>
    public static void Rewind(HttpContext http) => http.Request.Body.Position = 0;

    public static bool IsStreaming(HttpContext http) => http.Items.TryGetValue(StreamingItem, out var streaming) && streaming is true;

    /// <summary>Carries the request's streaming to the upstream client's handler (its first-byte timeout).</summary>
    public static ValueTask MarkStreaming(RequestTransformContext context)
    {
        context.ProxyRequest.Options.Set(StreamingOption, IsStreaming(context.HttpContext));
        return ValueTask.CompletedTask;
    }
}
