using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Every request has an id: the client's X-Request-Id when it sends a valid one (checked at the edge: the gateway
/// refuses a bad one before any worker sees it), else a new one, set on the request so that a proxy forwards it. It is
/// echoed in the response with the request's span (traceparent), and the worker makes it the base of the response id
/// ("cmpl-&lt;id&gt;"). One middleware for the gateway and the worker.
/// </summary>
public static class RequestIds
{
    public const string Header = "X-Request-Id";

    /// <summary>
    /// Long enough for a UUID; short enough that "chatcmpl-&lt;id&gt;-&lt;prompt&gt;" fits an exemplar's 128-character label
    /// budget beside trace_id and span_id (63 characters with their names, leaving 55 for request_id's).
    /// </summary>
    public const int MaxLength = 40;

    private const string ItemKey = "vellum.request_id";

    public static string Get(HttpContext http) => (string)http.Items[ItemKey]!;

    /// <summary>The id, when the middleware has given the request one.</summary>
    public static string? Find(HttpContext http) => http.Items.TryGetValue(ItemKey, out var id) ? id as string : null;

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var given = http.Request.Headers[Header].ToString();
        if (given.Length > 0 && !IsValid(given))
        {
            var message = $"The {Header} header must be 1 to {MaxLength} visible ASCII characters.";
            await Results.Json(new { error = new { message, type = "invalid_request_error", param = Header, code = (string?)null } }, statusCode: 400).ExecuteAsync(http);
            return;
        }
        var id = given.Length > 0 ? given : NewId();
        http.Items[ItemKey] = id;
        http.Request.Headers[Header] = id;
        // At the start, unless what answered set them (a worker's answer through the gateway carries its own).
        http.Response.OnStarting(() =>
        {
            WriteHeaders(http, keepExisting: true);
            return Task.CompletedTask;
        });
        await next(http);
    });

    /// <summary>The request id and the request's span (W3C Trace Context, so a client can find its trace) on the response.</summary>
    public static void WriteHeaders(HttpContext http, bool keepExisting = false)
    {
        if (!keepExisting || string.IsNullOrEmpty(http.Response.Headers[Header]))
        {
            http.Response.Headers[Header] = Get(http);
        }
        if (System.Diagnostics.Activity.Current is { IdFormat: System.Diagnostics.ActivityIdFormat.W3C } span
            && (!keepExisting || string.IsNullOrEmpty(http.Response.Headers["traceparent"])))
        {
            http.Response.Headers["traceparent"] = span.Id;
        }
    }

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    private static bool IsValid(string id) => id.Length <= MaxLength && id.All(c => c is > ' ' and <= '~');
}
