using System.Text.Json;

namespace Worker.Api;

/// <summary>Writes OpenAI's server-sent events: "data: {json}" per event, "data: [DONE]" at the end.</summary>
internal static class ServerSentEvents
{
    public static async Task WriteAsync(HttpResponse response, object payload, CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: " + JsonSerializer.Serialize(payload, ResponseJson.Options) + "\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    public static async Task WriteDoneAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        await response.WriteAsync("data: [DONE]\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    /// <summary>Ends a stream that failed with an error event, if the client still listens.</summary>
    public static async Task TryWriteErrorAsync(HttpResponse response, ApiException error)
    {
        try
        {
            await WriteAsync(response, error.ToBody(), CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection is gone; the error was logged and counted.
        }
    }
}
