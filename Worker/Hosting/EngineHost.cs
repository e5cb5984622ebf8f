using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ServiceDefaults.Metrics;
using Worker.Engine;
using Worker.Engine.Speculation;
using Worker.Metrics;
using ModelBuilder;
using Worker.Options;
using Worker.Runner;
using MetricsContract;

namespace Worker.Hosting;

/// <summary>
/// The engine's life: loads the model in the background while the server already answers (so /health can say
/// "not yet"), starts the engine, and puts it to sleep and wakes it up. If the model cannot load, the worker
/// stops with an error, as vLLM does. It is also what the gauges read (<see cref="IEngineState"/>).
/// </summary>
public sealed partial class EngineHost(
    IOptions<ServeOptions> options,
    ILoggerFactory loggerFactory,
    IHostApplicationLifetime lifetime,
    MetricsPolicy? metricsPolicy = null,
    IMeterFactory? meterFactory = null) : BackgroundService, IHealthCheck, IEngineState
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<EngineHost>();
    private readonly SemaphoreSlim _transition = new(1, 1);
    private readonly AdmissionRejections _rejections = new();
    private volatile EngineInstance? _instance;
    private string? _modelPath;
    private Dictionary<string, byte[]>? _offloadedWeights;
    private IReadOnlyList<IEngineStatsSink> _statsSinks = [];
    private StatsLogger? _statsLogger;

    /// <summary>The engine, or null while the model loads or the engine sleeps.</summary>
    public LlmEngine? Engine => _instance?.Engine;

    /// <summary>
    /// The engine and its models for one request, held until the request releases them; null while the model loads
    /// or the engine sleeps (or is going to sleep).
    /// </summary>
    public EngineInstance? TryHold() => _instance is { } instance && instance.TryHold() ? instance : null;

    /// <summary>The names clients may use in "model"; the first one labels metrics.</summary>
    public IReadOnlyList<string> ServedModelNames { get; } = ResolveServedNames(options.Value);

    /// <summary>The LoRA adapters served (none without --enable-lora).</summary>
    public LoraModules Loras { get; } = new();

    public SleepState SleepState { get; private set; } = SleepState.Awake;

    public bool IsSleeping => SleepState != SleepState.Awake;

    public EngineSnapshot? Snapshot => Engine?.Snapshot;

    public KvCacheConfig? CacheConfig { get; private set; }

    public long Rejections(string reason) => _rejections.Counts.GetValueOrDefault(reason);

    private StructuredOutput.GrammarCompiler? _grammars;

    /// <summary>
    /// The structured-output grammars over the served model's vocabulary, created on first use; kept across sleeps (the
    /// model, and so the vocabulary, does not change).
    /// </summary>
    internal StructuredOutput.GrammarCompiler Grammars(LoadedModel model) =>
        LazyInitializer.EnsureInitialized(ref _grammars, () => new StructuredOutput.GrammarCompiler(model.Vocabulary));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        try
        {
            _modelPath = string.IsNullOrWhiteSpace(settings.Model)
                ? await Task.Run(() => DefaultModel.EnsureBuilt(settings.DownloadDir ?? DefaultModel.DefaultCacheDirectory(), settings.EnableLora), stoppingToken)
                : settings.Model;
            await Task.Run(() => Start(modelData: null), stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ModelLoadFailed(_logger, e);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    /// <summary>
    /// Sleep frees the KV cache at every level: the engine stops, running and queued requests are aborted (their clients
    /// get an engine_sleeping error; they count as finished_reason="abort"), and the prefix pool goes. Level 1 keeps a
    /// copy of the weight files in memory for a wake-up without the disk, and unloads the model: a loaded model holds
    /// more than its files (the runtime's arena and pre-packed weights), on CUDA device memory too. Level 2 discards
    /// everything. Freed native memory is handed back to the operating system, so a sleeping worker's RSS shows it.
    /// </summary>
    public async Task SleepAsync(int level)
    {
        await _transition.WaitAsync();
        try
        {
            if (IsSleeping || _instance is not { } instance)
            {
                return;
            }
            _offloadedWeights = level == 1 ? instance.Model.ReadModelData() : null;
            // Asleep before the engine stops: requests arriving from now on are refused with engine_sleeping.
            SleepState = level == 1 ? SleepState.WeightsOffloaded : SleepState.DiscardAll;
            Stop(new EngineError(EngineError.EngineSleeping, $"The engine was put to sleep (level {level}) while this request ran, and the request was aborted; retry once the engine is awake."));
            Log.Slept(_logger, level);
        }
        finally
        {
            _transition.Release();
        }
    }

    public async Task WakeUpAsync()
    {
        await _transition.WaitAsync();
        try
        {
            if (!IsSleeping)
            {
                return;
            }
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await Task.Run(() => Start(_offloadedWeights));
            _offloadedWeights = null;
            NativeMemory.ReturnFreedMemory(); // the weight copy the runtime has now read
            SleepState = SleepState.Awake;
            Log.WokeUp(_logger, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            _transition.Release();
        }
    }

    /// <param name="modelData">Weight files in memory (a wake-up from level 1): read instead of the disk.</param>
    private void Start(IReadOnlyDictionary<string, byte[]>? modelData)
    {
        var settings = options.Value;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var speculativeConfig = string.IsNullOrWhiteSpace(settings.SpeculativeConfig) ? null : SpeculativeConfig.Parse(settings.SpeculativeConfig, Path.Combine(_modelPath!, ModelFolderBuilder.DraftFolderName));
        var model = LoadedModel.Load(_modelPath!, settings.Device, settings.MaxModelLen, settings.IntraOpThreads, modelData);
        var draft = EngineFactory.LoadDraft(speculativeConfig, model, settings.Device);
        var policy = metricsPolicy ?? new MetricsPolicy();
        if (speculativeConfig is not null)
        {
            policy.Enable(MetricCondition.SpeculativeDecoding);
        }
        var kvTransfer = string.IsNullOrWhiteSpace(settings.KvTransferConfig) ? null : KvTransfer.KvTransferConfig.Parse(settings.KvTransferConfig);
        if (kvTransfer is not null)
        {
            policy.Enable(MetricCondition.KvConnector);
            if (kvTransfer.Consumes)
            {
                policy.Enable(MetricCondition.KvConsumer);
            }
        }
        if (settings.EnableLora)
        {
            policy.Enable(MetricCondition.Lora);
            if (modelData is null)
            {
                ServeStaticAdapters(settings, model);
            }
        }
        if (_statsSinks.Count == 0 && !policy.DisableLogStats)
        {
            _statsSinks = CreateStatsSinks(policy, model, speculativeConfig?.NumSpeculativeTokens);
        }
        var engine = EngineFactory.Create(model, draft, speculativeConfig, settings, KvCacheBudget(settings, model.Folder), policy, _statsSinks,
            loggerFactory.CreateLogger<LlmEngine>(), kvTransfer, _rejections);
        CacheConfig = engine.Options.Cache;
        if (engine.Options.KvConnector?.Producer is { } producer)
        {
            Log.ServingKv(_logger, kvTransfer!.Role.ToString(), producer.AdvertisedHost, producer.Port, kvTransfer.EngineId);
        }
        _instance = new EngineInstance(engine, model, draft, () => ReleaseModels(model, draft));
        Log.ModelLoaded(_logger, _modelPath!, ServedModelNames[0], model.MaxModelLength, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        Log.KvCacheSized(_logger, CacheConfig.TotalBlocks, CacheConfig.BlockSize, CacheConfig.TotalBlocks * (long)CacheConfig.BlockSize, CacheConfig.BytesPerBlock);
    }

    /// <summary>
    /// --lora-modules (with the embedded model and none given, its own adapters), checked against the model as it
    /// loads: a bad adapter stops the worker at start-up, naming what is wrong. A wake-up keeps them.
    /// </summary>
    private void ServeStaticAdapters(ServeOptions settings, LoadedModel model)
    {
        if (model.Decoder.LoraInputs.Count == 0)
        {
            throw new InvalidOperationException($"--enable-lora: the model '{_modelPath}' takes no LoRA weights; serve a LoRA-ready export " +
                "(build-model --lora NAME, or ONNX Runtime GenAI's builder with an adapter).");
        }
        var modules = settings.LoraModules.Count > 0 || !string.IsNullOrWhiteSpace(settings.Model)
            ? settings.LoraModules.Select(LoraModulePath.Parse)
            : DefaultModel.LoraAdapters.Select(name => new LoraModulePath(name, Path.Combine(_modelPath!, ModelFolderBuilder.LoraFolderName, name)));
        foreach (var module in modules)
        {
            if (Loras.Find(module.Name) is null)
            {
                var adapter = Loras.Add(module, model, ServedModelNames, settings.MaxLoraRank);
                Log.AdapterServed(_logger, adapter.Lora.Name, adapter.Lora.Path, adapter.Rank);
            }
        }
    }

    /// <summary>Nobody holds the models any more: dispose them and hand the memory back.</summary>
    private static void ReleaseModels(LoadedModel model, LoadedModel? draft)
    {
        model.Dispose();
        draft?.Dispose();
        NativeMemory.ReturnFreedMemory();
    }

    /// <summary>The metrics recorder and the periodic log line, created once: counters carry on across sleeps.</summary>
    private IReadOnlyList<IEngineStatsSink> CreateStatsSinks(MetricsPolicy policy, LoadedModel model, int? speculativeTokens)
    {
        var sinks = new List<IEngineStatsSink>();
        if (meterFactory is not null)
        {
            // The 1-2-5 token buckets depend on max_model_len: known now, before the instruments exist.
            policy.MaxModelLength = model.MaxModelLength;
            // The cost model reads the whole decoder graph: only --enable-mfu-metrics pays for it, at start and at each wake-up.
            var cost = policy.EnableMfuMetrics ? ModelCost.From(model.Folder, model.Decoder.KvElementBytes) : null;
            sinks.Add(new VllmMetrics(meterFactory, policy, ServedModelNames[0], this, cost, speculativeTokens));
        }
        _statsLogger = new StatsLogger(loggerFactory.CreateLogger<StatsLogger>(), this, TimeProvider.System, StatsLogger.IntervalFromEnvironment());
        sinks.Add(_statsLogger);
        return sinks;
    }

    /// <summary>
    /// Host shutdown and sleep may both stop the engine: whoever takes the instance stops it and lets go of the host's
    /// hold, so the models go once the last request holding them is done.
    /// </summary>
    private void Stop(EngineError why)
    {
        if (Interlocked.Exchange(ref _instance, null) is { } instance)
        {
            instance.Engine.Stop(why);
            instance.Release();
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_instance is not null || IsSleeping ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("The model is loading."));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        Stop(new EngineError(EngineError.EngineShutdown, "The server is shutting down; the request was aborted."));

        _statsLogger?.Dispose();
    }

    /// <summary>
    /// The bytes the KV cache may use: the explicit budget, else vLLM's CPU default of 4 GiB, else on CUDA the
    /// device's memory times --gpu-memory-utilization less the weights.
    /// </summary>
    private static long KvCacheBudget(ServeOptions settings, ModelFolder model)
    {
        if (settings.KvCacheMemoryBytes is { } explicitBytes)
        {
            return explicitBytes;
        }
        if (settings.Device != "cuda")
        {
            return 4L << 30;
        }
        var (_, total) = CudaMemory.Query(0);
        return (long)(total * settings.GpuMemoryUtilization) - model.WeightBytes();
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

        [LoggerMessage(2, LogLevel.Critical, "The model could not be loaded; the worker stops.")]
        public static partial void ModelLoadFailed(ILogger logger, Exception exception);

        [LoggerMessage(3, LogLevel.Information, "KV cache: {Blocks} blocks of {BlockSize} tokens ({Tokens} tokens, {BytesPerBlock} bytes per block).")]
        public static partial void KvCacheSized(ILogger logger, int blocks, int blockSize, long tokens, long bytesPerBlock);

        [LoggerMessage(4, LogLevel.Information, "The engine sleeps (level {Level}).")]
        public static partial void Slept(ILogger logger, int level);

        [LoggerMessage(6, LogLevel.Information, "KV transfer ({Role}): held prefills are read at {Host}:{Port} (engine {EngineId}).")]
        public static partial void ServingKv(ILogger logger, string role, string host, int port, string engineId);

        [LoggerMessage(7, LogLevel.Information, "Serving LoRA adapter '{Name}' from {Path} (rank {Rank}).")]
        public static partial void AdapterServed(ILogger logger, string name, string path, int rank);

        [LoggerMessage(5, LogLevel.Information, "The engine woke up in {ElapsedMs:F0} ms.")]
        public static partial void WokeUp(ILogger logger, double elapsedMs);
    }
}
