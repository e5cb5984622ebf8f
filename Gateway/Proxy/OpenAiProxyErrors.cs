using Yarp.ReverseProxy.Forwarder;

namespace Gateway.Proxy;

/// <summary>
/// When no worker can take a request (none healthy, connection refused, idle timeout), YARP answers with a bare
/// status code; clients of an OpenAI-compatible API expect the error object, so the gateway writes one.
/// </summary>
public static class OpenAiProxyErrors
{
    public static IReverseProxyApplicationBuilder UseOpenAiProxyErrors(this IReverseProxyApplicationBuilder proxy)
    {
        proxy.Use(async (http, next) =>
        {
            await next();
            if (http.Response.HasStarted || http.GetForwarderErrorFeature() is not { } failure)
            {
                return;
            }
            var message = failure.Error switch
            {
                ForwarderError.NoAvailableDestinations => "No worker is available to serve the request.",
                ForwarderError.RequestTimedOut => "The worker did not answer in time.",
                _ => $"The request could not be forwarded to a worker ({failure.Error}).",
            };
            await WriteAsync(http, http.Response.StatusCode >= 500 ? http.Response.StatusCode : StatusCodes.Status502BadGateway, message, "upstream_unavailable");
        });
        return proxy;
    }

    /// <summary>An OpenAI error object with the status, for what the gateway itself answers.</summary>
    public static Task WriteAsync(HttpContext http, int status, string message, string code) =>
        Results.Json(new { error = Error(message, code) }, statusCode: status).ExecuteAsync(http);

    /// <summary>OpenAI's error object, as a whole response or an SSE event carries it.</summary>
    public static object Error(string message, string code) => new { message, type = "server_error", param = (string?)null, code };
}
