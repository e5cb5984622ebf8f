using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bench;

/// <summary>What one streamed request measured, as the client saw it.</summary>
internal sealed record RequestResult(bool Success, string? Error, int PromptTokens, int OutputTokens, double TtftMs, double E2eMs, List<double> ItlMs)
{
    /// <summary>vLLM's TPOT: time after the first token divided by the tokens after it.</summary>
    public double? TpotMs => OutputTokens > 1 ? (E2eMs - TtftMs) / (OutputTokens - 1) : null;
}

/// <summary>Sends one streaming completion or chat request and times every chunk; greedy unless a temperature is given.</summary>
internal sealed class StreamingClient(HttpClient http, string baseUrl, string model, string endpoint, double temperature = 0)
{
    /// <param name="requestModel">The model this request names (a LoRA adapter); the client's own when null.</param>
    public async Task<RequestResult> SendAsync(string prompt, int outputTokens, CancellationToken cancellationToken, string? requestModel = null)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = requestModel ?? model,
            ["max_tokens"] = outputTokens,
            ["ignore_eos"] = true,
            ["temperature"] = temperature,
            ["stream"] = true,
            ["stream_options"] = new { include_usage = true },
        };
        var path = endpoint == "chat" ? "/chat/completions" : "/completions";
        if (endpoint == "chat")
        {
            body["messages"] = new[] { new { role = "user", content = prompt } };
        }
        else
        {
            body["prompt"] = prompt;
        }

        var started = Stopwatch.GetTimestamp();
        var itl = new List<double>();
        double? ttft = null;
        var last = started;
        int promptTokens = 0, completionTokens = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl.TrimEnd('/') + path) { Content = JsonContent.Create(body) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return Failed($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]")
                {
                    continue;
                }
                var now = Stopwatch.GetTimestamp();
                using var chunk = JsonDocument.Parse(line.AsMemory(6));
                var root = chunk.RootElement;
                if (root.TryGetProperty("error", out var error))
                {
                    return Failed(error.ToString());
                }
                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    promptTokens = usage.GetProperty("prompt_tokens").GetInt32();
                    completionTokens = usage.GetProperty("completion_tokens").GetInt32();
                }
                if (root.GetProperty("choices").GetArrayLength() == 0 || !HasText(root.GetProperty("choices")[0]))
                {
                    continue;
                }
                if (ttft is null)
                {
                    ttft = Stopwatch.GetElapsedTime(started, now).TotalMilliseconds;
                }
                else
                {
                    itl.Add(Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                }
                last = now;
            }
            var e2e = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return new RequestResult(true, null, promptTokens, completionTokens, ttft ?? e2e, e2e, itl);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            return Failed(e.Message);
        }

        RequestResult Failed(string message) => new(false, message, 0, 0, 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds, []);
    }

    private static bool HasText(JsonElement choice) =>
        (choice.TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 })
        || (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 });

    public static HttpClient CreateHttpClient() => new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
}
