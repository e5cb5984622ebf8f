using System.Text;
using System.Text.Json;
using Worker.Engine;

namespace Worker.Api;

/// <summary>Runs a validated request on the engine and answers with one JSON object or a server-sent event stream.</summary>
internal static partial class GenerationResponder
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };

    /// <param name="timeout">--request-timeout: past it, the request is aborted wherever it is.</param>
    /// <param name="serverTiming">--enable-per-request-metrics: non-streamed responses carry a Server-Timing header.</param>
    public static async Task RespondAsync(HttpContext http, LlmEngine engine, GenerationRequest request, IResponseFormat format, TimeSpan? timeout, bool serverTiming,
        ILogger logger)
    {
        var header = new ResponseHeader(format.IdPrefix + request.RequestId, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), request.Model);
        System.Diagnostics.Activity.Current?.SetTag("request_id", header.Id);
        using var generation = new Generation(engine, request, header.Id);
        using var deadline = new CancellationTokenSource();
        var timedOut = false;
        if (timeout is { } limit)
        {
            deadline.Token.Register(() =>
            {
                timedOut = true;
                generation.AbortAll();
            });
            deadline.CancelAfter(limit - System.Diagnostics.Stopwatch.GetElapsedTime(request.Arrival.Timestamp));
        }

        var deadlineError = () => new ApiException(504, $"The request did not finish within --request-timeout ({timeout?.TotalSeconds} s) and was aborted.", code: "request_timeout");
        try
        {
            if (request.Stream)
            {
                await StreamAsync(http, generation, request, header, format, () => timedOut ? deadlineError() : null);
            }
            else
            {
                await CompleteAsync(http, generation, request, header, format, serverTiming, () => timedOut ? deadlineError() : null);
            }
        }
        finally
        {
            var finished = generation.Requests.Where(r => r.IsFinished).ToArray();
            RequestSpans.Record(finished);
            foreach (var sequence in finished.SelectMany(r => r.Sequences))
            {
                LogFinished(logger, sequence.Request.Id, sequence.Index, sequence.Finish!.Value.ToApiString(), sequence.Request.PromptTokens.Length,
                    sequence.OutputTokenCount, sequence.CachedPromptTokens, sequence.Timeline.Preemptions.Count);
            }
        }
    }

    [LoggerMessage(10, LogLevel.Information,
        "Request {RequestId} sequence {Sequence} finished ({FinishReason}): {PromptTokens} prompt tokens ({CachedPromptTokens} cached), {OutputTokens} output tokens, {Preemptions} preemptions.")]
    private static partial void LogFinished(ILogger logger, string requestId, int sequence, string finishReason, int promptTokens, int outputTokens,
        int cachedPromptTokens, int preemptions);

    private static async Task CompleteAsync(HttpContext http, Generation generation, GenerationRequest request, ResponseHeader header, IResponseFormat format,
        bool serverTiming, Func<ApiException?> deadlineError)
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
        if (deadlineError() is { } timedOut)
        {
            throw timedOut;
        }

        var body = format.Complete(header, results!, new Usage(request.Prompts.Sum(p => p.Length), completionTokens));
        if (serverTiming || request.IncludeMetrics)
        {
            var metrics = PerRequestMetrics.From(generation.Requests);
            if (serverTiming)
            {
                http.Response.Headers["Server-Timing"] = metrics.ToServerTiming();
            }
            if (request.IncludeMetrics)
            {
                body["metrics"] = metrics.ToBody();
            }
        }
        await http.Response.WriteAsJsonAsync(body, Json, http.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext http, Generation generation, GenerationRequest request, ResponseHeader header, IResponseFormat format,
        Func<ApiException?> deadlineError)
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
        if (deadlineError() is { } timedOut)
        {
            await WriteEventAsync(response, timedOut.ToBody(), http.RequestAborted);
        }
        if (request.IncludeUsage || request.IncludeMetrics)
        {
            var usage = request.IncludeUsage ? new Usage(request.Prompts.Sum(p => p.Length), completionTokens) : null;
            var metrics = request.IncludeMetrics ? PerRequestMetrics.From(generation.Requests) : null;
            await WriteEventAsync(response, format.FinalChunk(header, usage, metrics), http.RequestAborted);
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
