using System.Net;
using System.Net.Sockets;
using System.Text;
using Tests.Support;

namespace Tests.Fuzz;

/// <summary>A worker on Kestrel (a real socket: header limits and broken uploads are Kestrel's to meet), and how the fuzzer talks to it.</summary>
public sealed class OpenAiFuzzTarget : IAsyncLifetime
{
    public const string ModelName = WorkerApp.ModelName;

    /// <summary>The status reported when the server closed the connection without an answer.</summary>
    public const int ConnectionDropped = 0;

    private WorkerApp? _worker;

    public WorkerApp Worker => _worker!;

    public HttpClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _worker = await WorkerApp.StartOnKestrelAsync();
        Client = new HttpClient { BaseAddress = _worker.Address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }
    }

    /// <summary>Sends one request; returns the status, the content type and the whole body.</summary>
    public async Task<(int Status, string? ContentType, string Body)> SendAsync(FuzzRequest request, CancellationToken cancellationToken)
    {
        if (request.DeclaredLength is { } declared)
        {
            return await SendShortBodyAsync(request, declared, cancellationToken);
        }
        using var message = new HttpRequestMessage(HttpMethod.Post, request.Path) { Content = new ByteArrayContent(request.Body) };
        if (request.ContentType is { } type)
        {
            message.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }
        if (request.Header is { } header)
        {
            message.Headers.TryAddWithoutValidation(header.Name, header.Value);
        }
        using var response = await Client.SendAsync(message, cancellationToken);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync(cancellationToken));
    }

    /// <summary>Declares more body than it sends, then stops sending: what a client that dies mid-upload looks like.</summary>
    private async Task<(int, string?, string)> SendShortBodyAsync(FuzzRequest request, int declared, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Worker.Address.Port), cancellationToken);
        var head = $"POST {request.Path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {request.ContentType}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        await socket.SendAsync(request.Body, cancellationToken);
        socket.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Kestrel may drop a connection whose body broke off rather than finish the exchange.
        }
        var text = Encoding.UTF8.GetString(received.ToArray());
        if (text.Length == 0)
        {
            return (ConnectionDropped, null, "");
        }
        var status = int.Parse(text.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var headers = text[..headerEnd];
        var body = Dechunk(text[(headerEnd + 4)..], headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase));
        var contentType = headers.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?.Split(':', 2)[1].Split(';')[0].Trim();
        return (status, contentType, body);
    }

    private static string Dechunk(string body, bool chunked)
    {
        if (!chunked)
        {
            return body;
        }
        var result = new StringBuilder();
        var at = 0;
        while (at < body.Length)
        {
            var lineEnd = body.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = Convert.ToInt32(body[at..lineEnd], 16);
            if (size == 0)
            {
                break;
            }
            result.Append(body, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
        return result.ToString();
    }
}
