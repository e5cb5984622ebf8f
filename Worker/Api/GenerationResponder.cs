using System.Text;
using System.Text.Json;
using Worker.Engine;

namespace Worker.Api;

/// <summary>Runs a validated request on the engine and answers with one JSON object or a server-sent event stream.</summary>
internal static class GenerationResponder
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };

    public static async Task RespondAsync(HttpContext http, LlmEngine engine, GenerationRequest request, IResponseFormat format)
    {
        var header = new ResponseHeader(format.IdPrefix + request.RequestId, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), request.Model);
        using var generation = new Generation(engine, request);
        if (request.Stream)
        {
            await StreamAsync(http, generation, request, header, format);
        }
        else
        {
            await CompleteAsync(http, generation, request, header, format);
        }
    }

    private static async Task CompleteAsync(HttpContext http, Generation generation, GenerationRequest request, ResponseHeader header, IResponseFormat format)
    {
        var texts = Enumerable.Range(0, generation.ChoiceCount).Select(_ => new StringBuilder()).ToArray();
        var results = new ChoiceResult?[generation.ChoiceCount];
        var completionTokens = 0;
        await foreach (var output in generation.ReadAllAsync(http.RequestAborted))
        {
            if (output.Error is not null)
            {
                throw new ApiException(500, $"Generation failed: {output.Error}");
            }
            texts[output.Choice].Append(output.Text);
            completionTokens += output.NewTokens;
            if (output.Finish is { } finish)
            {
                results[output.Choice] = new ChoiceResult(output.Choice, texts[output.Choice].ToString(), finish, output.StopReason);
            }
        }
        var usage = new Usage(request.Prompts.Sum(p => p.Length), completionTokens);
        await http.Response.WriteAsJsonAsync(format.Complete(header, results!, usage), Json, http.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext http, Generation generation, GenerationRequest request, ResponseHeader header, IResponseFormat format)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(http.RequestAborted);

        var started = new bool[generation.ChoiceCount];
        var completionTokens = 0;
        await foreach (var output in generation.ReadAllAsync(http.RequestAborted))
        {
            if (output.Error is not null)
            {
                await WriteEventAsync(response, new ApiException(500, $"Generation failed: {output.Error}").ToBody(), http.RequestAborted);
                continue;
            }
            completionTokens += output.NewTokens;
            var first = !started[output.Choice];
            if (output.Text.Length == 0 && output.Finish is null && !first)
            {
                continue; // a token that completed no text yet (part of a UTF-8 sequence or a held-back stop prefix)
            }
            started[output.Choice] = true;
            await WriteEventAsync(response, format.Chunk(header, output.Choice, output.Text, first, output.Finish, output.StopReason, request.IncludeUsage), http.RequestAborted);
        }
        if (request.IncludeUsage)
        {
            await WriteEventAsync(response, format.UsageChunk(header, new Usage(request.Prompts.Sum(p => p.Length), completionTokens)), http.RequestAborted);
        }
        await response.WriteAsync("data: [DONE]\n\n", http.RequestAborted);
        await response.Body.FlushAsync(http.RequestAborted);
    }

    private static async Task WriteEventAsync(HttpResponse response, object payload, CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: " + JsonSerializer.Serialize(payload, Json) + "\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
