using Worker.Metrics;

namespace Worker.Api;

/// <summary>
/// No exception from request handling reaches Kestrel (which would answer a bare 500 with an empty body): what no
/// handler expected is logged with the request's id and trace, counted, and answered with an OpenAI-style 500 that
/// names the request id. A stream that already started ends with an error event instead.
/// </summary>
internal static partial class LastResortErrors
{
    public static IApplicationBuilder UseLastResortErrors(this IApplicationBuilder app)
    {
        // Created with the pipeline, so its counter is scraped at zero from start-up.
        var metrics = app.ApplicationServices.GetRequiredService<ApiMetrics>();
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LastResortErrors));
        return app.Use(async (http, next) =>
        {
            try
            {
                await next(http);
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                // The client went away: nobody is left to answer.
            }
            catch (Exception e)
            {
                await AnswerAsync(http, e, logger, metrics);
            }
        });
    }

    private static async Task AnswerAsync(HttpContext http, Exception exception, ILogger logger, ApiMetrics metrics)
    {
        var requestId = RequestIds.Find(http) ?? "unknown";
        using (logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = requestId }))
        {
            Log.Unhandled(logger, http.Request.Method, http.Request.Path, exception);
        }
        metrics.UnhandledError();
        var error = new ApiException(500, $"The server failed while handling request {requestId}; the failure was logged under that id.", code: "internal_error");
        if (!http.Response.HasStarted)
        {
            http.Response.Clear();
            if (RequestIds.Find(http) is not null)
            {
                RequestIds.WriteHeaders(http);
            }
            await error.ToResult().ExecuteAsync(http);
        }
        else if (http.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
        {
            await ServerSentEvents.TryWriteErrorAsync(http.Response, error);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Unhandled exception while serving {Method} {Path}.")]
        public static partial void Unhandled(ILogger logger, string method, string path, Exception exception);
    }
}
