using System.Net;
using System.Text;
using System.Text.Json;
using Yarp.ReverseProxy.Transforms;

namespace Gateway.Proxy;

/// <summary>
/// A stream whose worker fails after it started cannot get another status code: without care the client sees the
/// connection cut and cannot tell a truncated answer from a finished one. This response transform wraps a worker's
/// event stream so that a failed read from the worker (reset, closed, idle timeout) ends the client's stream with an
/// OpenAI-style error event instead of [DONE], and counts it. A client that went away is not written to.
/// </summary>
internal static class BrokenStreamEnding
{
    public static ValueTask EndBrokenStreamsWithAnErrorEvent(ResponseTransformContext context)
    {
        if (context.ProxyResponse is { Content: { } content } response
            && content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            var http = context.HttpContext;
            var metrics = http.RequestServices.GetRequiredService<GatewayMetrics>();
            var upstream = GatewayMetrics.Upstream(http.GetReverseProxyFeature().ProxiedDestination);
            response.Content = new EndingContent(content, http.RequestAborted, () => metrics.BrokenStream(upstream));
        }
        return ValueTask.CompletedTask;
    }

    private static readonly byte[] ErrorEvent = Encoding.UTF8.GetBytes("data: " + JsonSerializer.Serialize(new
    {
        error = OpenAiProxyErrors.Error("The worker serving this stream failed before it finished; the answer is incomplete.", "upstream_stream_broken"),
    }) + "\n\n");

    /// <summary>The worker's content, read through <see cref="EndingStream"/>; its headers are the worker's.</summary>
    private sealed class EndingContent : HttpContent
    {
        private readonly HttpContent _upstream;
        private readonly CancellationToken _clientAborted;
        private readonly Action _broke;

        public EndingContent(HttpContent upstream, CancellationToken clientAborted, Action broke)
        {
            _upstream = upstream;
            _clientAborted = clientAborted;
            _broke = broke;
            foreach (var header in upstream.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override async Task<Stream> CreateContentReadStreamAsync() =>
            new EndingStream(await _upstream.ReadAsStreamAsync(), _clientAborted, _broke);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => CopyAsync(stream, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) => CopyAsync(stream, cancellationToken);

        private async Task CopyAsync(Stream destination, CancellationToken cancellationToken)
        {
            await using var source = await CreateContentReadStreamAsync();
            await source.CopyToAsync(destination, cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _upstream.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>Reads the worker's stream; when a read fails while the client is still there, yields the error event, then the end.</summary>
    private sealed class EndingStream(Stream upstream, CancellationToken clientAborted, Action broke) : Stream
    {
        private ReadOnlyMemory<byte> _ending;
        private bool _broken;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_broken)
            {
                try
                {
                    return await upstream.ReadAsync(buffer, cancellationToken);
                }
                catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException && !clientAborted.IsCancellationRequested)
                {
                    _broken = true;
                    _ending = ErrorEvent;
                    broke();
                }
            }
            var count = Math.Min(buffer.Length, _ending.Length);
            _ending[..count].CopyTo(buffer);
            _ending = _ending[count..];
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                upstream.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
