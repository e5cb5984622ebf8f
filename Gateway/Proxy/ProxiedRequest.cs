using System.Text.Json;
using System.Text.Json.Nodes;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Proxy;

/// <summary>
/// The client's request as the gateway keeps it: its body buffered (so a retry can send it again) and read once for
/// what the gateway decides by: whether it asks for a stream (its first-byte timeout, how a broken response ends), its
/// prompt as text (prefix affinity), the tokens it may use (per-key token limits) and the parsed body (the P/D legs).
/// Kept as a typed feature on the request, as YARP keeps its own (<c>IReverseProxyFeature</c>).
/// </summary>
internal sealed class ProxiedRequest
{
    public static readonly HttpRequestOptionsKey<bool> StreamingOption = new("vellum.streaming");

    /// <summary>
    /// The body as JSON, when it is a JSON object. After a P/D split it is the decode leg's body (with the prefill's
    /// kv_transfer_params), so a retry on another decode worker reads the same held KV instead of prefilling again.
    /// </summary>
    public JsonObject? Body { get; set; }

    public bool IsStreaming { get; private init; }

    /// <summary>The prompt as text, for prefix affinity: a completion's prompt, or a chat's messages as "role: content" lines.</summary>
    public string? Prompt { get; private init; }

    /// <summary>The model the body names (the key gate weighs the request against its context length).</summary>
    public string? Model { get; private init; }

    /// <summary>A chat request: without max_tokens the worker gives it the rest of the context (a completion gets 16).</summary>
    public bool IsChat { get; private init; }

    /// <summary>The prompt's characters ÷ 4: the gateway has no tokenizer.</summary>
    public int PromptTokenEstimate { get; private init; }

    /// <summary>max_completion_tokens or max_tokens, when the body sets one.</summary>
    public int? MaxOutputTokens { get; private init; }

    /// <summary>What the gateway read of the request; empty until <see cref="BufferAsync"/> has run.</summary>
    public static ProxiedRequest Of(HttpContext http) => http.Features.Get<ProxiedRequest>() ?? new ProxiedRequest();

    /// <summary>Buffers the body and reads what the gateway decides by; once per request, whoever asks first.</summary>
    public static async Task<ProxiedRequest> BufferAsync(HttpContext http)
    {
        if (http.Features.Get<ProxiedRequest>() is { } read)
        {
            return read;
        }
        http.Request.EnableBuffering();
        var request = new ProxiedRequest();
        if (http.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
        {
            try
            {
                if (await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted) is JsonObject body)
                {
                    request = new ProxiedRequest
                    {
                        Body = body,
                        IsStreaming = body["stream"] is JsonValue stream && stream.GetValueKind() == JsonValueKind.True,
                        Prompt = PromptText(body),
                        Model = body["model"] is JsonValue model && model.GetValueKind() == JsonValueKind.String ? model.GetValue<string>() : null,
                        IsChat = body["messages"] is not null,
                        PromptTokenEstimate = ((body["messages"] ?? body["prompt"])?.ToJsonString().Length ?? 0) / 4,
                        MaxOutputTokens = Int(body["max_completion_tokens"]) ?? Int(body["max_tokens"]),
                    };
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: the worker says what is wrong with it.
            }
            Rewind(http);
        }
        http.Features.Set(request);
        return request;
    }

    private static string? PromptText(JsonObject body)
    {
        if (body["messages"] is JsonArray messages)
        {
            return string.Concat(messages.OfType<JsonObject>().Select(m => $"{Text(m["role"])}: {(Text(m["content"]) ?? m["content"]?.ToJsonString())}\n"));
        }
        return body["prompt"] switch
        {
            JsonValue prompt => Text(prompt),
            JsonArray { Count: > 0 } prompts => Text(prompts[0]),
            _ => null,
        };

        static string? Text(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
    }

    private static int? Int(JsonNode? node) => node is JsonValue value && value.TryGetValue<int>(out var number) ? number : null;

    /// <summary>Sends the body again from its start.</summary>
    public static void Rewind(HttpContext http) => http.Request.Body.Position = 0;

    /// <summary>Carries the request's streaming to the upstream client's handler (its first-byte timeout).</summary>
    public static ValueTask MarkStreaming(RequestTransformContext context)
    {
        context.ProxyRequest.Options.Set(StreamingOption, Of(context.HttpContext).IsStreaming);
        return ValueTask.CompletedTask;
    }
}
