namespace Gateway.Proxy;

/// <summary>
/// How the gateway treats its workers (configuration section "Upstream"): short connect and first-byte timeouts so a
/// dead or hung worker never holds a request for long, and one retry on another worker for a request that failed
/// before any byte reached the client. Streams keep the cluster's idle ActivityTimeout and never a total one (a total
/// timeout would cut a long SSE stream).
/// </summary>
public sealed class UpstreamOptions
{
    public const string Section = "Upstream";

    /// <summary>Connecting to a worker: refused at once when it is dead, and given up after this when it is unreachable.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A streaming request's response headers (a worker starts a stream at once): past this the worker is taken to be
    /// hung. A non-streamed response's headers come with its whole answer, so only the idle ActivityTimeout bounds it.
    /// </summary>
    public TimeSpan StreamFirstByteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times a request that failed before its first byte is sent again, each time to a worker not yet tried.</summary>
    public int Retries { get; set; } = 1;
}
