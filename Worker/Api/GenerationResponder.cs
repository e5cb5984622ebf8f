using System.Text;
using Worker.Engine;
using Worker.Hosting;

namespace Worker.Api;

/// <summary>Runs a validated request on the engine and answers with one JSON object or a server-sent event stream.</summary>
internal static partial class GenerationResponder
{
    /// <param name="timeout">--request-timeout: past it, the request is aborted wherever it is.</param>
    /// <param name="serverTiming">--enable-per-request-metrics: non-streamed responses carry a Server-Timing header.</param>
    public static async Task RespondAsync(HttpContext http, EngineInstance engine, GenerationRequest request, IResponseFormat format, TimeSpan? timeout, bool serverTiming,
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
            // A slow upload may have used the whole budget already: then the request is aborted before it is submitted,
            // so the engine ends it on intake (counted as an abort, as any timeout) without computing a token.
            var left = limit - System.Diagnostics.Stopwatch.GetElapsedTime(request.Arrival.Timestamp);
            if (left > TimeSpan.Zero)
            {
                deadline.CancelAfter(left);
            }
            else
            {
                deadline.Cancel();
            }
        }
        generation.Submit();

        var deadlineError = () => new ApiException(504, $"The request did not finish within --request-timeout ({timeout?.TotalSeconds} s) and was aborted.", code: "request_timeout");
        try
        {
            // A request whose deadline passed before it started is answered as a whole (504), not as a stream.
            if (request.Stream && !timedOut)
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
            RequestSpans.Record(generation.Requests, generation.Finished);
            foreach (var sequence in generation.Finished)
            {
                LogFinished(logger, sequence.RequestId, sequence.Index, sequence.Finish.ToApiString(), sequence.PromptTokens,
                    sequence.OutputTokens, sequence.CachedPromptTokens, sequence.Preemptions);
            }
        }
    }

    /// <summary>A sequence the engine could not finish: 503 when it was stopped under the request (retry), 500 when the model failed.</summary>
    private static ApiException Failed(EngineError error) =>
        new(error.Code == EngineError.GenerationFailed ? 500 : 503, error.Message, code: error.Code);

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
            if (output.Error is { } error)
            {
                throw Failed(error);
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
        if (generation.Finished.Select(f => f.HeldKv).FirstOrDefault(held => held is not null) is { } heldKv)
        {
            // A prefill leg: where the decode worker reads the prompt's KV (vLLM's response field).
            body["kv_transfer_params"] = heldKv;
        }
        if (serverTiming || request.IncludeMetrics)
        {
            var metrics = PerRequestMetrics.From(generation.Requests[0].Arrival, generation.Finished, request.Lora?.Name);
            if (serverTiming)
            {
                http.Response.Headers["Server-Timing"] = metrics.ToServerTiming();
            }
            if (request.IncludeMetrics)
            {
                body["metrics"] = metrics.ToBody();
            }
        }
        await http.Response.WriteAsJsonAsync(body, ResponseJson.Options, http.RequestAborted);
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
        var failed = false;
        var completionTokens = 0;
        await foreach (var output in generation.ReadAllAsync(http.RequestAborted))
        {
            if (output.Error is { } error)
            {
                // One error event however many choices the failure ended.
                if (!failed)
                {
                    await ServerSentEvents.WriteAsync(response, Failed(error).ToBody(), http.RequestAborted);
                    failed = true;
                }
                continue;
            }
            completionTokens += output.NewTokens;
            var first = !started[output.Choice];
            if (output.Text.Length == 0 && output.Finish is null && !first)
            {
                continue; // a token that completed no text yet (part of a UTF-8 sequence or a held-back stop prefix)
            }
            started[output.Choice] = true;
            await ServerSentEvents.WriteAsync(response, format.Chunk(header, output.Choice, output.Text, first, output.Finish, output.StopReason, request.IncludeUsage), http.RequestAborted);
        }
        if (deadlineError() is { } timedOut)
        {
            await ServerSentEvents.WriteAsync(response, timedOut.ToBody(), http.RequestAborted);
        }
        if (request.IncludeUsage || request.IncludeMetrics)
        {
            var usage = request.IncludeUsage ? new Usage(request.Prompts.Sum(p => p.Length), completionTokens) : null;
            var metrics = request.IncludeMetrics ? PerRequestMetrics.From(generation.Requests[0].Arrival, generation.Finished, request.Lora?.Name) : null;
            await ServerSentEvents.WriteAsync(response, format.FinalChunk(header, usage, metrics), http.RequestAborted);
        }
        await ServerSentEvents.WriteDoneAsync(response, http.RequestAborted);
    }
}
