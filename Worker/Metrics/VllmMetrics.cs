using System.Diagnostics.Metrics;
using ServiceDefaults.Metrics;
using Worker.Engine;
using C = ServiceDefaults.Metrics.MetricCatalog;

namespace Worker.Metrics;

/// <summary>
/// The recorder: turns the engine's step stats into vLLM's metric families. It alone holds instruments; names,
/// label keys and buckets come from the catalog. Label values (model_name, engine) are bound once; every
/// enumerated series is created at zero on construction, as vLLM's are.
/// </summary>
public sealed class VllmMetrics : IEngineStatsSink
{
    public const string EngineIndex = "0";

    private readonly MetricsPolicy _policy;
    private readonly ModelCost _cost;
    private readonly KeyValuePair<string, object?>[] _labels;
    private readonly Counter<long> _prefixQueries, _prefixHits, _preemptions, _promptTokens, _promptTokensBySource, _promptTokensCached,
        _generationTokens, _requestSuccess, _corrupted;
    private readonly Counter<double> _flops, _readBytes, _writeBytes;
    private readonly Histogram<double> _requestPromptTokens, _requestGenerationTokens, _iterationTokens, _maxNumGenerationTokens, _paramsN,
        _paramsMaxTokens, _ttft, _itl, _tpot, _e2e, _queue, _inference, _prefill, _decode, _prefillKvComputed, _numPreemptions,
        _blockLifetime, _blockIdle, _blockReuseGap;

    public VllmMetrics(IMeterFactory meterFactory, MetricsPolicy policy, string modelName, IEngineState state, ModelCost cost)
    {
        _policy = policy;
        _cost = cost;
        _labels = [new(C.ModelName, modelName), new(C.Engine, EngineIndex)];
        var meter = meterFactory.Create(policy.MeterOptions(C.VllmMeter));

        meter.CreateObservableGauge(C.NumRequestsRunning.Name, () => Measure(state.Snapshot?.Running ?? 0));
        meter.CreateObservableGauge(C.NumRequestsWaiting.Name, () => Measure(state.Snapshot?.Waiting ?? 0));
        // Every waiting request here waits for capacity: nothing defers requests (no LoRA budget, no KV transfer).
        meter.CreateObservableGauge(C.NumRequestsWaitingByReason.Name, () => new[]
        {
            Measure(state.Snapshot?.Waiting ?? 0, ("reason", "capacity")),
            Measure(0, ("reason", "deferred")),
        });
        meter.CreateObservableGauge(C.EngineSleepState.Name, () => new[]
        {
            Measure(state.SleepState == SleepState.Awake ? 1 : 0, ("sleep_state", "awake")),
            Measure(state.SleepState == SleepState.WeightsOffloaded ? 1 : 0, ("sleep_state", "weights_offloaded")),
            Measure(state.SleepState == SleepState.DiscardAll ? 1 : 0, ("sleep_state", "discard_all")),
        });
        meter.CreateObservableGauge(C.KvCacheUsage.Name, () => new Measurement<double>(state.Snapshot?.KvCacheUsage ?? 0, _labels));
        meter.CreateObservableGauge(C.CacheConfigInfo.Name, () => state.CacheConfig is { } config
            ? [new Measurement<int>(1, CacheConfigLabels.For(config, policy))]
            : Array.Empty<Measurement<int>>());
        meter.CreateObservableCounter(C.AdmissionRejections.Name, () =>
            C.AdmissionRejections.EnumeratedLabels["reason"].Select(reason => Measure(state.Rejections.GetValueOrDefault(reason), ("reason", reason))));

        _corrupted = Counter(meter, C.CorruptedRequests);
        _prefixQueries = Counter(meter, C.PrefixCacheQueries);
        _prefixHits = Counter(meter, C.PrefixCacheHits);
        Counter(meter, C.ExternalPrefixCacheQueries);
        Counter(meter, C.ExternalPrefixCacheHits);
        Counter(meter, C.MmCacheQueries);
        Counter(meter, C.MmCacheHits);
        _preemptions = Counter(meter, C.NumPreemptions);
        _promptTokens = Counter(meter, C.PromptTokens);
        _promptTokensBySource = Counter(meter, C.PromptTokensBySource);
        _promptTokensCached = Counter(meter, C.PromptTokensCached);
        _generationTokens = Counter(meter, C.GenerationTokens);
        _requestSuccess = Counter(meter, C.RequestSuccess);
        _flops = DoubleCounter(meter, C.EstimatedFlops);
        _readBytes = DoubleCounter(meter, C.EstimatedReadBytes);
        _writeBytes = DoubleCounter(meter, C.EstimatedWriteBytes);

        _requestPromptTokens = Histogram(meter, C.RequestPromptTokens);
        _requestGenerationTokens = Histogram(meter, C.RequestGenerationTokens);
        _iterationTokens = Histogram(meter, C.IterationTokens);
        _maxNumGenerationTokens = Histogram(meter, C.RequestMaxNumGenerationTokens);
        _paramsN = Histogram(meter, C.RequestParamsN);
        _paramsMaxTokens = Histogram(meter, C.RequestParamsMaxTokens);
        _ttft = Histogram(meter, C.TimeToFirstToken);
        _itl = Histogram(meter, C.InterTokenLatency);
        _tpot = Histogram(meter, C.RequestTimePerOutputToken);
        _e2e = Histogram(meter, C.E2eRequestLatency);
        _queue = Histogram(meter, C.RequestQueueTime);
        _inference = Histogram(meter, C.RequestInferenceTime);
        _prefill = Histogram(meter, C.RequestPrefillTime);
        _decode = Histogram(meter, C.RequestDecodeTime);
        _prefillKvComputed = Histogram(meter, C.RequestPrefillKvComputedTokens);
        _numPreemptions = Histogram(meter, C.RequestNumPreemptions);
        _blockLifetime = Histogram(meter, C.KvBlockLifetime);
        _blockIdle = Histogram(meter, C.KvBlockIdleBeforeEvict);
        _blockReuseGap = Histogram(meter, C.KvBlockReuseGap);
    }

    public void Record(StepStats stats)
    {
        _prefixQueries.Add(stats.PrefixQueries, _labels);
        _prefixHits.Add(stats.PrefixHits, _labels);
        _preemptions.Add(stats.Preemptions, _labels);
        _generationTokens.Add(stats.GeneratedTokens, _labels);
        if (stats.IterationTokens > 0)
        {
            _iterationTokens.Record(stats.IterationTokens, _labels);
        }

        foreach (var first in stats.FirstTokens)
        {
            _ttft.Record(first.TimeToFirstToken, _labels);
            _promptTokens.Add(first.PromptTokens, _labels);
            _promptTokensBySource.Add(first.PromptTokens - first.CachedPromptTokens, With("source", "local_compute"));
            _promptTokensBySource.Add(first.CachedPromptTokens, With("source", "local_cache_hit"));
            _promptTokensCached.Add(first.CachedPromptTokens, _labels);
        }
        foreach (var latency in stats.InterTokenLatencies)
        {
            _itl.Record(latency.Seconds, _labels);
        }
        foreach (var finished in stats.Finished)
        {
            RecordFinished(finished);
        }
        foreach (var request in stats.FinishedRequests)
        {
            _paramsN.Record(request.N, _labels);
            _maxNumGenerationTokens.Record(request.MaxGenerationTokens, _labels);
        }
        if (_policy.EnableMfuMetrics)
        {
            foreach (var pass in stats.ForwardPasses)
            {
                _flops.Add(_cost.Flops(pass.TokensFed, pass.ContextLength), _labels);
                _readBytes.Add(_cost.ReadBytes(pass.ContextLength), _labels);
                _writeBytes.Add(_cost.WriteBytes(pass.TokensFed), _labels);
            }
        }
        foreach (var block in stats.KvBlockEvents)
        {
            if (block.Kind == KvBlockEventKind.Evicted)
            {
                _blockLifetime.Record(block.Lifetime, _labels);
                _blockIdle.Record(block.Idle, _labels);
            }
            else
            {
                _blockReuseGap.Record(block.ReuseGap, _labels);
            }
        }
    }

    private void RecordFinished(FinishedSequenceStats finished)
    {
        _requestSuccess.Add(1, With("finished_reason", finished.Reason.ToApiString()));
        _e2e.Record(finished.EndToEnd, _labels);
        _requestPromptTokens.Record(finished.PromptTokens, _labels);
        _requestGenerationTokens.Record(finished.GenerationTokens, _labels);
        _paramsMaxTokens.Record(finished.MaxTokens, _labels);
        _tpot.Record(finished.TimePerOutputToken, _labels);
        _prefillKvComputed.Record(finished.PromptTokens - finished.CachedPromptTokens, _labels);
        _numPreemptions.Record(finished.Preemptions, _labels);
        // Intervals exist only between events that happened: a request aborted while queued was never scheduled.
        RecordIfKnown(_queue, finished.Queue);
        RecordIfKnown(_prefill, finished.Prefill);
        RecordIfKnown(_decode, finished.Decode);
        RecordIfKnown(_inference, finished.Inference);
        if (finished.Corrupted)
        {
            _corrupted.Add(1, _labels);
        }
    }

    private void RecordIfKnown(Histogram<double> histogram, double? seconds)
    {
        if (seconds is { } value)
        {
            histogram.Record(value, _labels);
        }
    }

    /// <summary>A counter with every series of its enumerated labels at zero.</summary>
    private Counter<long> Counter(Meter meter, MetricFamily family)
    {
        var counter = meter.CreateCounter<long>(family.Name, description: family.Description);
        foreach (var labels in SeriesOf(family))
        {
            counter.Add(0, labels);
        }
        return counter;
    }

    private Counter<double> DoubleCounter(Meter meter, MetricFamily family)
    {
        var counter = meter.CreateCounter<double>(family.Name, description: family.Description);
        counter.Add(0, _labels);
        return counter;
    }

    /// <summary>A histogram whose series the scrape shows at zero until the first observation.</summary>
    private Histogram<double> Histogram(Meter meter, MetricFamily family)
    {
        var histogram = meter.CreateHistogram<double>(family.Name, description: family.Description);
        if (_policy.IsRegistered(family))
        {
            _policy.AddEagerHistogramSeries(family, _labels.ToDictionary(l => l.Key, l => (string)l.Value!));
        }
        return histogram;
    }

    private IEnumerable<KeyValuePair<string, object?>[]> SeriesOf(MetricFamily family) =>
        family.EnumeratedLabels.Count == 0
            ? [_labels]
            : family.EnumeratedLabels.Single().Value.Select(value => With(family.EnumeratedLabels.Single().Key, value));

    private KeyValuePair<string, object?>[] With(string key, string value) => [.. _labels, new(key, value)];

    private Measurement<long> Measure(long value, params (string Key, string Value)[] extra) =>
        new(value, [.. _labels, .. extra.Select(e => new KeyValuePair<string, object?>(e.Key, e.Value))]);
}
