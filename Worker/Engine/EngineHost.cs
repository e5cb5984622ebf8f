using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Worker.Models;
using Worker.Options;
using Worker.Runner;

namespace Worker.Engine;

/// <summary>
/// Loads the model in the background while the server already answers (so /health can say "not yet"),
/// then starts the engine. If the model cannot load, the worker stops with an error, as vLLM does.
/// </summary>
public sealed partial class EngineHost(
    IOptions<ServeOptions> options,
    ILoggerFactory loggerFactory,
    IHostApplicationLifetime lifetime) : BackgroundService, IHealthCheck
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<EngineHost>();
    private volatile LlmEngine? _engine;
    private LoadedModel? _model;

    /// <summary>The engine, or null while the model loads.</summary>
    public LlmEngine? Engine => _engine;

    /// <summary>The names clients may use in "model"; the first one labels metrics.</summary>
    public IReadOnlyList<string> ServedModelNames { get; } = ResolveServedNames(options.Value);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        try
        {
            var path = string.IsNullOrWhiteSpace(settings.Model)
                ? await Task.Run(() => DefaultModel.EnsureBuilt(settings.DownloadDir ?? DefaultModel.DefaultCacheDirectory()), stoppingToken)
                : settings.Model;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _model = await Task.Run(() => LoadedModel.Load(path, settings.Device, settings.MaxModelLen, settings.IntraOpThreads), stoppingToken);
            var engineOptions = new EngineOptions(
                settings.MaxNumSeqs,
                KvCacheConfig.Create(_model.Folder, _model.MaxModelLength, settings.BlockSize, KvCacheBudget(settings, path), settings.NumGpuBlocksOverride, settings.EnablePrefixCaching),
                settings.MaxNumQueuedRequests,
                settings.MaxNumQueuedTokens);
            _engine = new LlmEngine(_model, engineOptions, loggerFactory.CreateLogger<LlmEngine>());
            Log.ModelLoaded(_logger, path, ServedModelNames[0], _model.MaxModelLength, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            Log.KvCacheSized(_logger, engineOptions.Cache.TotalBlocks, engineOptions.Cache.BlockSize, engineOptions.Cache.TotalBlocks * (long)engineOptions.Cache.BlockSize, engineOptions.Cache.BytesPerBlock);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ModelLoadFailed(_logger, e);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_engine is null ? HealthCheckResult.Unhealthy("The model is loading.") : HealthCheckResult.Healthy());

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        _engine?.Dispose();
        _model?.Dispose();
    }

    /// <summary>
    /// The bytes the KV cache may use: the explicit budget, else vLLM's CPU default of 4 GiB, else on CUDA the
    /// device's memory times --gpu-memory-utilization less the weights.
    /// </summary>
    private static long KvCacheBudget(ServeOptions settings, string modelPath)
    {
        if (settings.KvCacheMemoryBytes is { } explicitBytes)
        {
            return explicitBytes;
        }
        if (settings.Device != "cuda")
        {
            return 4L << 30;
        }
        var weights = Directory.EnumerateFiles(modelPath).Where(f => f.EndsWith(".onnx", StringComparison.Ordinal) || f.EndsWith(".data", StringComparison.Ordinal))
            .Sum(f => new FileInfo(f).Length);
        var (_, total) = CudaMemory.Query(0);
        return (long)(total * settings.GpuMemoryUtilization) - weights;
    }

    private static List<string> ResolveServedNames(ServeOptions settings) => settings.ServedModelName switch
    {
        { Count: > 0 } names => names,
        _ when string.IsNullOrWhiteSpace(settings.Model) => [DefaultModel.ServedName],
        _ => [settings.Model!],
    };

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Loaded model {Path} as '{ServedModelName}' (max model length {MaxModelLength}) in {ElapsedMs:F0} ms.")]
        public static partial void ModelLoaded(ILogger logger, string path, string servedModelName, int maxModelLength, double elapsedMs);

        [LoggerMessage(3, LogLevel.Information, "KV cache: {Blocks} blocks of {BlockSize} tokens ({Tokens} tokens, {BytesPerBlock} bytes per block).")]
        public static partial void KvCacheSized(ILogger logger, int blocks, int blockSize, long tokens, long bytesPerBlock);

        [LoggerMessage(2, LogLevel.Critical, "The model could not be loaded; the worker stops.")]
        public static partial void ModelLoadFailed(ILogger logger, Exception exception);
    }
}
