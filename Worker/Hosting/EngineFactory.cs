using ServiceDefaults.Metrics;
using Worker.Engine;
using Worker.Engine.Speculation;
using Worker.KvTransfer;
using Worker.Options;
using Worker.Runner;
using MetricsContract;

namespace Worker.Hosting;

/// <summary>
/// Wires an engine from the serving options and the loaded models: the KV cache's size, the batched runner and its
/// arena, the proposer for speculative decoding, the scheduler's limits and the queue's. The host builds its engines
/// here, and so do the tests that drive an engine directly.
/// </summary>
internal static class EngineFactory
{
    /// <param name="kvTransfer">--kv-transfer-config, parsed; null for a worker that neither holds nor reads other workers' KV.</param>
    public static LlmEngine Create(LoadedModel model, LoadedModel? draft, SpeculativeConfig? speculativeConfig, ServeOptions settings, long kvCacheBytes,
        MetricsPolicy policy, IReadOnlyList<IEngineStatsSink> statsSinks, ILogger<LlmEngine> logger, KvTransferConfig? kvTransfer = null,
        AdmissionRejections? rejections = null)
    {
        var cache = KvCacheConfig.Create(model.Folder, model.MaxModelLength, settings.BlockSize, kvCacheBytes, settings.NumGpuBlocksOverride,
            settings.EnablePrefixCaching, settings.MaxNumSeqs, model.Decoder.KvElementBytes, slotsCommitted: settings.Device == "cuda",
            settings.GpuMemoryUtilization, draft?.Folder);
        // Slots hold whole blocks: a transfer moves blocks, and the last block of a prompt near max_model_len must fit too.
        var slotLength = (model.MaxModelLength + settings.BlockSize - 1) / settings.BlockSize * settings.BlockSize;
        var runner = new OnnxBatchRunner(model.Decoder, cache.RunningSlots + cache.PrefixSlots, slotLength,
            settings.EnableLora ? new LoraWeights(settings.MaxCpuLoras ?? settings.MaxLoras) : null);
        var connector = kvTransfer is null ? null : new KvConnector(kvTransfer, KvLayout.Of(model.Folder, runner.Cache, settings.BlockSize), runner.Cache, logger);
        var options = new EngineOptions(SchedulerLimitsFor(settings, model.MaxModelLength), cache,
            settings.MaxNumQueuedRequests ?? EngineOptions.DefaultMaxQueuedSequences(cache, settings.MaxNumSeqs),
            settings.MaxNumQueuedTokens ?? EngineOptions.DefaultMaxQueuedTokens(cache),
            KvBlockSampleRate: policy.IsRegistered(MetricCatalog.KvBlockLifetime) ? policy.KvCacheMetricsSample : 0,
            CheckLogitsForNaN: policy.IsRegistered(MetricCatalog.CorruptedRequests),
            Speculation: StartSpeculation(speculativeConfig, draft, cache.RunningSlots, model.MaxModelLength, settings.Device),
            KvConnector: connector,
            MaxLoras: settings.EnableLora ? settings.MaxLoras : null);
        return new LlmEngine(model, runner, options, logger, statsSinks, rejections);
    }

    /// <summary>
    /// A draft model for --speculative-config's draft_model method, loaded beside the target and checked against it. It
    /// runs on one intra-op thread: its matrices are too small to gain from more, and a second thread pool spinning
    /// between its passes competes with the target's for the same cores (one thread: 1.7× at concurrency 1 against
    /// 1.2× with ONNX Runtime's default, side by side on the small model).
    /// </summary>
    public static LoadedModel? LoadDraft(SpeculativeConfig? config, LoadedModel target, string device)
    {
        if (config?.DraftModel is not { } path)
        {
            return null;
        }
        SpeculativeConfig.CheckDraftMatches(target.Folder, ModelFolder.Read(path), target.MaxModelLength);
        return LoadedModel.Load(path, device, target.MaxModelLength, intraOpThreads: 1);
    }

    /// <summary>
    /// The step's token budget: --max-num-batched-tokens, else 128 on CPU and 2048 on CUDA (see ServeOptions); without
    /// chunked prefill a whole prompt must fit one step, so the default grows to max_model_len, as vLLM's does.
    /// </summary>
    public static SchedulerLimits SchedulerLimitsFor(ServeOptions settings, int maxModelLength)
    {
        var budget = settings.MaxNumBatchedTokens ?? Math.Max(settings.Device == "cuda" ? 2048 : 128, settings.MaxNumSeqs);
        if (!settings.EnableChunkedPrefill && settings.MaxNumBatchedTokens is null)
        {
            budget = Math.Max(budget, maxModelLength);
        }
        if (!settings.EnableChunkedPrefill && budget < maxModelLength)
        {
            throw new InvalidOperationException(
                $"--max-num-batched-tokens ({budget}) is below --max-model-len ({maxModelLength}) with chunked prefill off: a long prompt could never be scheduled. " +
                "Raise it, lower --max-model-len, or leave chunked prefill on.");
        }
        return new SchedulerLimits(settings.MaxNumSeqs, budget, settings.EnableChunkedPrefill, settings.LongPrefillTokenThreshold);
    }

    /// <summary>The proposer --speculative-config asks for; a draft model runs batched in an arena of its own, a slot per running sequence.</summary>
    private static SpeculativeDecoding? StartSpeculation(SpeculativeConfig? config, LoadedModel? draft, int runningSlots, int maxModelLength, string device)
    {
        if (config is null)
        {
            return null;
        }
        IDraftProposer proposer = config.Method == SpeculativeConfig.NgramMethod
            ? new NgramProposer(config.PromptLookupMax, config.PromptLookupMin)
            : new DraftModelProposer(draft!, new OnnxBatchRunner(draft!.Decoder, runningSlots, maxModelLength));
        var disableByBatchSize = config.DisableByBatchSize ?? (device == "cpu" ? SpeculativeDecoding.CpuDisableByBatchSize : null);
        return new SpeculativeDecoding(proposer, config.NumSpeculativeTokens, config.MinAdaptiveK, disableByBatchSize);
    }
}
