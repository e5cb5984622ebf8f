using System.Security.Cryptography;

namespace Worker.Api;

/// <summary>
/// Every request has an id: the client's (or the gateway's) X-Request-Id when it sends one, else a new one.
/// It is echoed in the response header and becomes the base of the response id ("cmpl-&lt;id&gt;").
/// </summary>
internal static class RequestIds
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
            await ApiException.BadRequest(
                $"The {Header} header must be 1 to {MaxLength} visible ASCII characters.", Header).ToResult().ExecuteAsync(http);
            return;
        }
        var id = given.Length > 0 ? given : NewId();
        http.Items[ItemKey] = id;
        WriteHeaders(http);
        await next(http);
    });

    /// <summary>The request id and the request's span (W3C Trace Context, so a client can find its trace) on the response.</summary>
    public static void WriteHeaders(HttpContext http)
    {
        http.Response.Headers[Header] = Get(http);
        if (System.Diagnostics.Activity.Current is { IdFormat: System.Diagnostics.ActivityIdFormat.W3C } span)
        {
            http.Response.Headers["traceparent"] = span.Id;
        }
    }

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    private static bool IsValid(string id) => id.Length <= MaxLength && id.All(c => c is > ' ' and <= '~');
}
