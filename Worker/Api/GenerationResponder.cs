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
        // Logprobs name tokens by their text and bytes: the model's vocabulary, read once it is first needed.
        var vocabulary = request.Sampling[0] is { Logprobs: null, PromptLogprobs: null } ? null : engine.Model.Vocabulary;

        var deadlineError = () => new ApiException(504, $"The request did not finish within --request-timeout ({timeout?.TotalSeconds} s) and was aborted.", code: "request_timeout");
        try
        {
            // A request whose deadline passed before it started is answered as a whole (504), not as a stream.
            if (request.Stream && !timedOut)
            {
                await StreamAsync(http, generation, request, header, format, vocabulary, () => timedOut ? deadlineError() : null);
            }
            else
            {
                await CompleteAsync(http, generation, request, header, format, vocabulary, serverTiming, () => timedOut ? deadlineError() : null);
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
        StructuredOutput.TokenVocabulary? vocabulary, bool serverTiming, Func<ApiException?> deadlineError)
    {
        var texts = Enumerable.Range(0, generation.ChoiceCount).Select(_ => new StringBuilder()).ToArray();
        var logprobs = Enumerable.Range(0, generation.ChoiceCount).Select(_ => new List<Runner.TokenLogprobs>()).ToArray();
        var promptLogprobs = new IReadOnlyList<Runner.TokenLogprobs>?[generation.ChoiceCount];
        var results = new ChoiceResult?[generation.ChoiceCount];
        var completionTokens = 0;
        await foreach (var output in generation.ReadAllAsync(http.RequestAborted))
        {
            if (output.Error is { } error)
            {
                throw Failed(error);
            }
            texts[output.Choice].Append(output.Text);
            logprobs[output.Choice].AddRange(output.Logprobs ?? []);
            promptLogprobs[output.Choice] ??= output.PromptLogprobs;
            completionTokens += output.NewTokens;
            if (output.Finish is { } finish)
            {
                var c = output.Choice;
                var prompt = request.Prompts[c / request.N];
                var offset = 0;
                var shown = Echoed(request, prompt, promptLogprobs[c]).Concat(request.EchoOnly ? [] : ShownToken.Of(logprobs[c])).ToArray();
                var text = (request.Echo?[c / request.N] ?? "") + (request.EchoOnly ? "" : texts[c].ToString());
                results[c] = new ChoiceResult(c, text, finish, output.StopReason,
                    request.Sampling[0].Logprobs is null ? null : format.Logprobs(vocabulary!, shown, ref offset),
                    promptLogprobs[c] is { } entries ? LogprobValues.PromptLogprobs(vocabulary!, entries) : null);
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

    /// <summary>With echo and logprobs, the prompt's tokens: the first with none (nothing predicts it), the rest with theirs.</summary>
    private static IEnumerable<ShownToken> Echoed(GenerationRequest request, int[] prompt, IReadOnlyList<Runner.TokenLogprobs>? promptLogprobs) =>
        request.Echo is null || request.Sampling[0].Logprobs is null
            ? []
            : new[] { new ShownToken(prompt[0], null) }.Concat((promptLogprobs ?? []).Select(e => new ShownToken(e.Token, e)));

    private static async Task StreamAsync(HttpContext http, Generation generation, GenerationRequest request, ResponseHeader header, IResponseFormat format,
        StructuredOutput.TokenVocabulary? vocabulary, Func<ApiException?> deadlineError)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(http.RequestAborted);

        var started = new bool[generation.ChoiceCount];
        var textOffsets = new int[generation.ChoiceCount];
        var pendingLogprobs = Enumerable.Range(0, generation.ChoiceCount).Select(_ => new List<ShownToken>()).ToArray();
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
            var text = output.Text;
            if (first && request.Echo is { } echo)
            {
                // The first chunk begins with the prompt (and its logprobs).
                pendingLogprobs[output.Choice].AddRange(Echoed(request, request.Prompts[output.Choice / request.N], output.PromptLogprobs));
                text = echo[output.Choice / request.N] + (request.EchoOnly ? "" : text);
            }
            else if (request.EchoOnly)
            {
                text = "";
            }
            if (!request.EchoOnly)
            {
                pendingLogprobs[output.Choice].AddRange(ShownToken.Of(output.Logprobs ?? []));
            }
            if (text.Length == 0 && output.Finish is null && !first)
            {
                continue; // a token that completed no text yet (part of a UTF-8 sequence or a held-back stop prefix): its logprobs go with the next chunk
            }
            started[output.Choice] = true;
            var logprobs = request.Sampling[0].Logprobs is null ? null : format.Logprobs(vocabulary!, pendingLogprobs[output.Choice], ref textOffsets[output.Choice]);
            pendingLogprobs[output.Choice].Clear();
            await ServerSentEvents.WriteAsync(response, format.Chunk(header, output.Choice, text, first, output.Finish, output.StopReason, request.IncludeUsage, logprobs),
                http.RequestAborted);
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
