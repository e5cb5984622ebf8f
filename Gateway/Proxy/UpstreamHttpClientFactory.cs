using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace Gateway.Proxy;

/// <summary>
/// YARP's client to the workers, with <see cref="UpstreamOptions"/>' connect timeout, and the first-byte timeout of
/// streaming requests (marked by <see cref="ProxiedRequest.MarkStreaming"/>) as a failure to get response headers.
/// </summary>
internal sealed class UpstreamHttpClientFactory(IOptions<UpstreamOptions> options) : ForwarderHttpClientFactory
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.ConnectTimeout = options.Value.ConnectTimeout;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new FirstByteTimeout(base.WrapHandler(context, handler), options.Value.StreamFirstByteTimeout);

    private sealed class FirstByteTimeout(HttpMessageHandler inner, TimeSpan timeout) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!request.Options.TryGetValue(ProxiedRequest.StreamingOption, out var streaming) || !streaming)
            {
                return await base.SendAsync(request, cancellationToken);
            }
            // Only until the headers: the stream's body is the idle ActivityTimeout's.
            using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            headers.CancelAfter(timeout);
            try
            {
                return await base.SendAsync(request, headers.Token);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HttpRequestException($"The worker sent no response headers within {timeout.TotalSeconds:F0} s.", new TimeoutException(e.Message));
            }
        }
    }
}
