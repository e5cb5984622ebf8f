using Microsoft.Extensions.Hosting;

namespace Tests.Support;

/// <summary>An application lifetime that notes whether the application asked to stop.</summary>
public sealed class RecordingLifetime : IHostApplicationLifetime
{
    public bool StopRequested { get; private set; }
    public CancellationToken ApplicationStarted => CancellationToken.None;
    public CancellationToken ApplicationStopping => CancellationToken.None;
    public CancellationToken ApplicationStopped => CancellationToken.None;
    public void StopApplication() => StopRequested = true;
}
