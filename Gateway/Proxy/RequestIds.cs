using System.Security.Cryptography;

namespace Gateway.Proxy;

/// <summary>
/// Every proxied request carries an X-Request-Id: the client's, or one the gateway makes. The worker uses it
/// as the request id (response ids, logs, traces), and the client gets it back either way.
/// </summary>
public static class RequestIds
{
    public const string Header = "X-Request-Id";

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (string.IsNullOrEmpty(http.Request.Headers[Header]))
        {
            http.Request.Headers[Header] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        }
        var id = http.Request.Headers[Header].ToString();
        http.Response.OnStarting(() =>
        {
            if (string.IsNullOrEmpty(http.Response.Headers[Header]))
            {
                http.Response.Headers[Header] = id;
            }
            return Task.CompletedTask;
        });
        await next(http);
    });
}
