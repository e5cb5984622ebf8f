using System.Diagnostics;
using System.Diagnostics.Metrics;
using ServiceDefaults.Metrics;
using Worker.Engine;
using C = MetricsContract.MetricCatalog;
using MetricsContract;

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
    private readonly ModelCost? _cost;
    private readonly KeyValuePair<string, object?>[] _labels;
    private readonly Counter<long> _externalQueries, _externalHits, _nixlFailedTransfers, _nixlFailedNotifications, _nixlExpired;
    private readonly Histogram<double> _nixlTransferTime, _nixlPostTime, _nixlBytes, _nixlDescriptors;
    private readonly Counter<long> _prefixQueries, _prefixHits, _gpuPrefixQueries, _gpuPrefixHits, _preemptions, _promptTokens, _promptTokensBySource, _promptTokensCached,
        _generationTokens, _requestSuccess, _corrupted;
    private readonly Counter<double> _flops, _readBytes, _writeBytes;
    private readonly Histogram<double> _requestPromptTokens, _requestGenerationTokens, _iterationTokens, _maxNumGenerationTokens, _paramsN,
        _paramsMaxTokens, _ttft, _itl, _timePerOutputToken, _tpot, _e2e, _queue, _inference, _prefill, _decode, _prefillKvComputed, _numPreemptions,
        _blockLifetime, _blockIdle, _blockReuseGap;

    private readonly Counter<long> _specDrafts, _specDraftTokens, _specAccepted, _specAcceptedPerPosition;
    private readonly Histogram<double> _specDraftTime, _specVerifyTime, _specRoundK, _grammarMask;
    private readonly KeyValuePair<string, object?>[][] _positions; // the position series' labels, built once
    private readonly Gauge<double>? _loraRequestsInfo, _loraResidentInfo;

    /// <param name="cost">The MFU cost model; null when --enable-mfu-metrics is off (the counters stay at zero).</param>
    /// <param name="speculativeTokens">num_speculative_tokens when speculative decoding is on: positions 0..K-1 exist from start-up.</param>
    public VllmMetrics(IMeterFactory meterFactory, MetricsPolicy policy, string modelName, IEngineState state, ModelCost? cost, int? speculativeTokens = null)
    {
        _policy = policy;
        _cost = cost;
        _labels = [new(C.ModelName, modelName), new(C.Engine, EngineIndex)];
        var meter = meterFactory.Create(C.VllmMeter);

        // Gauges read the snapshot of the latest turn published, once per observation: one turn's counts, never a mix.
        meter.CreateObservableGauge(C.NumRequestsRunning.Name, () => Measure(state.Snapshot?.Running ?? 0));
        meter.CreateObservableGauge(C.NumRequestsWaiting.Name, () => Measure(state.Snapshot?.Waiting ?? 0));
        // Deferred: waiting while their prompt's KV is read from a prefill worker (the only reason here to defer).
        meter.CreateObservableGauge(C.NumRequestsWaitingByReason.Name, () =>
        {
            var snapshot = state.Snapshot;
            return new[]
            {
                Measure((snapshot?.Waiting ?? 0) - (snapshot?.Deferred ?? 0), ("reason", "capacity")),
                Measure(snapshot?.Deferred ?? 0, ("reason", "deferred")),
            };
        });
        meter.CreateObservableGauge(C.EngineSleepState.Name, () => new[]
        {
            Measure(state.SleepState == SleepState.Awake ? 1 : 0, ("sleep_state", "awake")),
            Measure(state.SleepState == SleepState.WeightsOffloaded ? 1 : 0, ("sleep_state", "weights_offloaded")),
            Measure(state.SleepState == SleepState.DiscardAll ? 1 : 0, ("sleep_state", "discard_all")),
        });
        meter.CreateObservableGauge(C.KvCacheUsage.Name, () => new Measurement<double>(state.Snapshot?.KvCacheUsage ?? 0, _labels));
        meter.CreateObservableGauge(C.GpuCacheUsagePerc.Name, () => new Measurement<double>(state.Snapshot?.KvCacheUsage ?? 0, _labels));
        meter.CreateObservableGauge(C.CacheConfigInfo.Name, () => state.CacheConfig is { } config
            ? [new Measurement<int>(1, CacheConfigLabels.For(config, policy))]
            : Array.Empty<Measurement<int>>());
        var modelLabel = _labels[0];
        meter.CreateObservableCounter(C.AdmissionRejections.Name, () => C.AdmissionRejections.EnumeratedLabels["reason"].Select(reason =>
            new Measurement<long>(state.Rejections(reason), modelLabel, new KeyValuePair<string, object?>("reason", reason))));
        if (policy.IsRegistered(C.NumRequestsKvFetchByStage))
        {
            meter.CreateObservableGauge(C.NumRequestsKvFetchByStage.Name, () =>
            {
                var fetching = state.Snapshot?.KvFetches;
                return new[]
                {
                    Measure(fetching?.Queued ?? 0, ("stage", "queued")),
                    Measure(fetching?.Handshake ?? 0, ("stage", "handshake")),
                    Measure(fetching?.Transferring ?? 0, ("stage", "transferring")),
                };
            });
        }

        _corrupted = Counter(meter, C.CorruptedRequests);
        _prefixQueries = Counter(meter, C.PrefixCacheQueries);
        _prefixHits = Counter(meter, C.PrefixCacheHits);
        _gpuPrefixQueries = Counter(meter, C.GpuPrefixCacheQueries);
        _gpuPrefixHits = Counter(meter, C.GpuPrefixCacheHits);
        _externalQueries = Counter(meter, C.ExternalPrefixCacheQueries);
        _externalHits = Counter(meter, C.ExternalPrefixCacheHits);
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
        _timePerOutputToken = Histogram(meter, C.TimePerOutputToken);
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

        _specDrafts = Counter(meter, C.SpecDecodeNumDrafts);
        _specDraftTokens = Counter(meter, C.SpecDecodeNumDraftTokens);
        _specAccepted = Counter(meter, C.SpecDecodeNumAcceptedTokens);
        _specAcceptedPerPosition = meter.CreateCounter<long>(C.SpecDecodeNumAcceptedTokensPerPos.Name, description: C.SpecDecodeNumAcceptedTokensPerPos.Description);
        _positions = Enumerable.Range(0, speculativeTokens ?? 0).Select(Position).ToArray();
        foreach (var position in _positions)
        {
            _specAcceptedPerPosition.Add(0, position);
        }
        _nixlTransferTime = Histogram(meter, C.NixlTransferTime);
        _nixlPostTime = Histogram(meter, C.NixlPostTime);
        _nixlBytes = Histogram(meter, C.NixlBytesTransferred);
        _nixlDescriptors = Histogram(meter, C.NixlNumDescriptors);
        _nixlFailedTransfers = Counter(meter, C.NixlNumFailedTransfers);
        _nixlFailedNotifications = Counter(meter, C.NixlNumFailedNotifications);
        _nixlExpired = Counter(meter, C.NixlNumKvExpiredReqs);
        var projectMeter = meterFactory.Create(C.VellumMeter);
        projectMeter.CreateObservableGauge(C.NumTokensWaiting.Name, () => Measure(state.Snapshot?.WaitingTokens ?? 0));
        projectMeter.CreateObservableGauge(C.NumUncachedTokensWaiting.Name, () => Measure(state.Snapshot?.WaitingUncachedTokens ?? 0));
        if (policy.IsRegistered(C.LoraRequestsInfo))
        {
            // Synchronous gauges: each label set keeps the time it was last set, as prometheus_client's children do.
            _loraRequestsInfo = meter.CreateGauge<double>(C.LoraRequestsInfo.Name, description: C.LoraRequestsInfo.Description);
            _loraResidentInfo = projectMeter.CreateGauge<double>(C.LoraResidentInfo.Name, description: C.LoraResidentInfo.Description);
        }
        _specDraftTime = Histogram(projectMeter, C.SpecDecodeDraftTime);
        _specVerifyTime = Histogram(projectMeter, C.SpecDecodeVerifyTime);
        _specRoundK = Histogram(projectMeter, C.SpecDecodeRoundK);
        _grammarMask = Histogram(projectMeter, C.StructuredOutputMaskTime);
    }

    /// <summary>vLLM's lora_info_labels, set to the time of the update; and the resident adapters, which it lacks.</summary>
    private void RecordLora(LoraAdapterStates lora)
    {
        var maxLora = lora.MaxLoras.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _loraRequestsInfo?.Record(lora.UnixTime, new TagList
        {
            { "max_lora", maxLora },
            { "waiting_lora_adapters", string.Join(',', lora.Waiting) },
            { "running_lora_adapters", string.Join(',', lora.Running) },
        });
        _loraResidentInfo?.Record(lora.UnixTime, new TagList { { "max_lora", maxLora }, { "resident_lora_adapters", string.Join(',', lora.Resident) } });
    }

    /// <summary>
    /// Called on the engine's output thread (see TurnPublisher), never the engine's. Kestrel's habits: per-request
    /// observations build their tags in a <see cref="TagList"/> (no allocation) and only for instruments someone listens to.
    /// </summary>
    public void Record(StepStats stats)
    {
        if (stats.Lora is { } lora)
        {
            RecordLora(lora);
        }
        _prefixQueries.Add(stats.PrefixQueries, _labels);
        _prefixHits.Add(stats.PrefixHits, _labels);
        _gpuPrefixQueries.Add(stats.PrefixQueries, _labels);
        _gpuPrefixHits.Add(stats.PrefixHits, _labels);
        _preemptions.Add(stats.Preemptions, _labels);
        _externalQueries.Add(stats.ExternalPrefixQueries, _labels);
        _externalHits.Add(stats.ExternalPrefixHits, _labels);
        if (stats.KvConnector is { } connector)
        {
            RecordConnector(connector);
        }
        if (stats.IterationTokens > 0)
        {
            _iterationTokens.Record(stats.IterationTokens, _labels);
        }
        foreach (var seconds in stats.GrammarMaskSeconds)
        {
            _grammarMask.Record(seconds, _labels);
        }
        // Request-level observations carry the request (and its trace) as exemplars when those are on; each family
        // has this one path whatever the flags, so a count never depends on whether exemplars are kept.
        if (_generationTokens.Enabled)
        {
            foreach (var generated in stats.Generated)
            {
                using var _ = TraceScope.Enter(generated.Trace);
                _generationTokens.Add(generated.Count, Tags(generated.RequestId));
            }
        }
        foreach (var first in stats.FirstTokens)
        {
            using var _ = TraceScope.Enter(first.Trace);
            var tags = Tags(first.RequestId);
            _ttft.Record(first.TimeToFirstToken, tags);
            _promptTokens.Add(first.PromptTokens, tags);
            if (_promptTokensBySource.Enabled)
            {
                _promptTokensBySource.Add(first.PromptTokens - first.CachedPromptTokens, With(tags, "source", "local_compute"));
                _promptTokensBySource.Add(first.CachedPromptTokens - first.ExternalPromptTokens, With(tags, "source", "local_cache_hit"));
                _promptTokensBySource.Add(first.ExternalPromptTokens, With(tags, "source", "external_kv_transfer"));
            }
            _promptTokensCached.Add(first.CachedPromptTokens, tags);
        }
        if (_itl.Enabled || _timePerOutputToken.Enabled)
        {
            foreach (var latency in stats.InterTokenLatencies)
            {
                using var _ = TraceScope.Enter(latency.Trace);
                var tags = Tags(latency.RequestId);
                _itl.Record(latency.Seconds, tags);
                _timePerOutputToken.Record(latency.Seconds, tags);
            }
        }
        foreach (var finished in stats.Finished)
        {
            using var _ = TraceScope.Enter(finished.Trace);
            RecordFinished(finished);
        }
        foreach (var request in stats.FinishedRequests)
        {
            using var _ = TraceScope.Enter(request.Trace);
            var tags = Tags(request.RequestId);
            _paramsN.Record(request.N, tags);
            _maxNumGenerationTokens.Record(request.MaxGenerationTokens, tags);
        }
        if (_cost is { } cost && stats.ForwardPasses.Count > 0)
        {
            _flops.Add(cost.Flops(stats.ForwardPasses), _labels);
            _readBytes.Add(cost.ReadBytes(stats.ForwardPasses), _labels);
            _writeBytes.Add(cost.WriteBytes(stats.ForwardPasses), _labels);
        }
        foreach (var round in stats.SpeculativeRounds)
        {
            using var _ = TraceScope.Enter(round.Trace);
            var tags = Tags(round.RequestId);
            _specDrafts.Add(1, tags);
            _specDraftTokens.Add(round.Proposed, tags);
            _specAccepted.Add(round.Accepted, tags);
            for (var position = 0; position < round.Accepted; position++)
            {
                _specAcceptedPerPosition.Add(1, _positions[position]);
            }
            _specDraftTime.Record(round.DraftSeconds, tags);
            _specVerifyTime.Record(round.VerifySeconds, tags);
            _specRoundK.Record(round.Proposed, tags);
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

    /// <summary>vLLM's NIXL families: one observation per completed read (decode side), failures, expired holds (prefill side).</summary>
    private void RecordConnector(KvConnectorStats connector)
    {
        foreach (var read in connector.Reads)
        {
            using var _ = TraceScope.Enter(read.Trace);
            var tags = Tags(read.RequestId);
            _nixlTransferTime.Record(read.TransferSeconds, tags);
            _nixlPostTime.Record(read.PostSeconds, tags);
            _nixlBytes.Record(read.Bytes, tags);
            _nixlDescriptors.Record(read.Descriptors, tags);
        }
        _nixlFailedTransfers.Add(connector.FailedTransfers, _labels);
        _nixlFailedNotifications.Add(connector.FailedNotifications, _labels);
        _nixlExpired.Add(connector.ExpiredRequests, _labels);
    }

    private void RecordFinished(FinishedSequenceStats finished)
    {
        var tags = Tags(finished.RequestId);
        _requestSuccess.Add(1, With(tags, "finished_reason", finished.Reason.ToApiString()));
        _e2e.Record(finished.EndToEnd, tags);
        _requestPromptTokens.Record(finished.PromptTokens, tags);
        _requestGenerationTokens.Record(finished.GenerationTokens, tags);
        _paramsMaxTokens.Record(finished.MaxTokens, tags);
        _tpot.Record(finished.TimePerOutputToken, tags);
        _prefillKvComputed.Record(finished.PromptTokens - finished.CachedPromptTokens, tags);
        _numPreemptions.Record(finished.Preemptions, tags);
        // Intervals exist only between events that happened: a request aborted while queued was never scheduled.
        RecordIfKnown(_queue, finished.Queue, tags);
        RecordIfKnown(_prefill, finished.Prefill, tags);
        RecordIfKnown(_decode, finished.Decode, tags);
        RecordIfKnown(_inference, finished.Inference, tags);
        if (finished.Corrupted)
        {
            _corrupted.Add(1, tags);
        }
    }

    private static void RecordIfKnown(Histogram<double> histogram, double? seconds, in TagList tags)
    {
        if (seconds is { } value)
        {
            histogram.Record(value, tags);
        }
    }

    /// <summary>
    /// The series labels, plus request_id when exemplars are on: the view keeps only the catalog's label keys,
    /// so request_id never becomes a label and the exemplar reservoir keeps it instead.
    /// </summary>
    private TagList Tags(string requestId)
    {
        var tags = new TagList(_labels);
        if (_policy.EnableExemplars)
        {
            tags.Add("request_id", requestId);
        }
        return tags;
    }

    private static TagList With(TagList tags, string key, string value)
    {
        tags.Add(key, value);
        return tags;
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

    private KeyValuePair<string, object?>[] Position(int position) => With("position", position.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private Measurement<long> Measure(long value, params (string Key, string Value)[] extra) =>
        new(value, [.. _labels, .. extra.Select(e => new KeyValuePair<string, object?>(e.Key, e.Value))]);
}
