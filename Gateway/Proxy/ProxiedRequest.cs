using System.Text.Json;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Proxy;

/// <summary>
/// The client's request as the gateway keeps it: its body buffered (so a retry can send it again) and read once for
/// what the gateway decides by: whether it asks for a stream (its first-byte timeout, how a broken response ends), its
/// prompt as text (prefix affinity) and the tokens it may use (per-key token limits).
/// </summary>
internal static class ProxiedRequest
{
    public static readonly HttpRequestOptionsKey<bool> StreamingOption = new("vellum.streaming");
    private const string StreamingItem = "vellum.streaming";
    private const string PromptItem = "vellum.prompt";
    private const string WeightItem = "vellum.token-weight";
    private const string BufferedItem = "vellum.buffered";

    /// <summary>Buffers the body and reads what the gateway decides by; once per request, whoever asks first.</summary>
    public static async Task BufferAsync(HttpContext http)
    {
        if (!http.Items.TryAdd(BufferedItem, true))
        {
            return;
        }
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
                http.Items[WeightItem] = TokenWeight(body.RootElement);
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

    /// <summary>Tokens the request may use (1 when its body says nothing: the worker refuses it with the reason).</summary>
    public static int TokenWeight(HttpContext http) => http.Items.TryGetValue(WeightItem, out var weight) && weight is int tokens ? tokens : 1;

    /// <summary>Its prompt's characters ÷ 4 (the gateway has no tokenizer) plus the output it asks for (max_tokens' default 16 without it).</summary>
    private static int TokenWeight(JsonElement body)
    {
        var output = body.TryGetProperty("max_completion_tokens", out var completion) && completion.TryGetInt32(out var c) ? c
            : body.TryGetProperty("max_tokens", out var max) && max.TryGetInt32(out var m) ? m
            : 16;
        var prompt = body.TryGetProperty("messages", out var messages) ? messages.GetRawText().Length
            : body.TryGetProperty("prompt", out var p) ? p.GetRawText().Length
            : 0;
        return Math.Max(1, prompt / 4 + output);
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
