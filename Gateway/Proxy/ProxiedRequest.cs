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
    private const string PromptItem = "vellum.prompt";

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
            if (body.RootElement.ValueKind == JsonValueKind.Object)
            {
                http.Items[StreamingItem] = body.RootElement.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True;
                http.Items[PromptItem] = PromptText(body.RootElement);
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: the worker says what is wrong with it.
        }
        Rewind(http);
    }

    /// <summary>The prompt as text, for prefix affinity: a completion's prompt, or a chat's messages as "role: content" lines.</summary>
    public static string? Prompt(HttpContext http) => http.Items.TryGetValue(PromptItem, out var prompt) ? prompt as string : null;

    private static string? PromptText(JsonElement body)
    {
        if (body.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            return string.Concat(messages.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.Object).Select(m =>
                $"{Text(m, "role")}: {(m.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String ? content.GetString() : content.ToString())}\n"));
        }
        return body.TryGetProperty("prompt", out var prompt) ? prompt.ValueKind switch
        {
            JsonValueKind.String => prompt.GetString(),
            JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt[0].ValueKind == JsonValueKind.String => prompt[0].GetString(),
            _ => null,
        } : null;

        static string? Text(JsonElement element, string name) => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
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
