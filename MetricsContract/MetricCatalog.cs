namespace MetricsContract;

/// <summary>
/// Every metric family the system exposes, once: vLLM's families with vLLM's exact names, types, label keys and
/// buckets, and the project's own (prefix "vellum_", Prometheus conventions). The OpenTelemetry view, the eager
/// zero series, /metrics/catalog, the README table and the tests all read this list.
/// </summary>
public static class MetricCatalog
{
    /// <summary>The meter vLLM's families are recorded on.</summary>
    public const string VllmMeter = "vllm";

    /// <summary>The meter of the project's own families.</summary>
    public const string VellumMeter = "vellum";

    public const string ModelName = "model_name";
    public const string Engine = "engine";

    private static readonly string[] Common = [ModelName, Engine];

    private static string[] With(params string[] extra) => [.. Common, .. extra];

    private static Dictionary<string, IReadOnlyList<string>> Values(string label, params string[] values) => new() { [label] = values };

    // --- general: scheduler state ---
    public static readonly MetricFamily NumRequestsRunning = new("vllm:num_requests_running", MetricKind.Gauge,
        "Requests in the engine's running set.", Common, MetricGroup.General);

    public static readonly MetricFamily NumRequestsWaiting = new("vllm:num_requests_waiting", MetricKind.Gauge,
        "Requests queued and not running (waiting for capacity plus deferred).", Common, MetricGroup.General);

    public static readonly MetricFamily NumRequestsWaitingByReason = new("vllm:num_requests_waiting_by_reason", MetricKind.Gauge,
        "Waiting requests by why they wait: capacity (no room yet) or deferred (reading their prompt's KV from a prefill worker).",
        With("reason"), MetricGroup.General, LabelValues: Values("reason", "capacity", "deferred"));

    public static readonly MetricFamily EngineSleepState = new("vllm:engine_sleep_state", MetricKind.Gauge,
        "Sleep mode as 0/1 flags: awake while serving; weights_offloaded after sleep level 1; discard_all after level 2.",
        With("sleep_state"), MetricGroup.General, LabelValues: Values("sleep_state", "awake", "weights_offloaded", "discard_all"));

    public static readonly MetricFamily KvCacheUsage = new("vllm:kv_cache_usage_perc", MetricKind.Gauge,
        "Fraction (0 to 1) of KV-cache blocks held by running requests.", Common, MetricGroup.General);

    public static readonly MetricFamily CorruptedRequests = new("vllm:corrupted_requests", MetricKind.Counter,
        "Finished requests whose logits contained NaN.", Common, MetricGroup.General, MetricCondition.NansInLogits);

    // --- general: caches ---
    public static readonly MetricFamily PrefixCacheQueries = new("vllm:prefix_cache_queries", MetricKind.Counter,
        "Prompt tokens of new requests looked up in the prefix cache.", Common, MetricGroup.General);

    public static readonly MetricFamily PrefixCacheHits = new("vllm:prefix_cache_hits", MetricKind.Counter,
        "Looked-up prompt tokens found in the prefix cache.", Common, MetricGroup.General);

    public static readonly MetricFamily ExternalPrefixCacheQueries = new("vllm:external_prefix_cache_queries", MetricKind.Counter,
        "Prompt tokens of new requests looked up through the KV connector (--kv-transfer-config): every prompt token of each.", Common, MetricGroup.General);

    public static readonly MetricFamily ExternalPrefixCacheHits = new("vllm:external_prefix_cache_hits", MetricKind.Counter,
        "Prompt tokens whose KV was read from a prefill worker instead of computed.", Common, MetricGroup.General);

    public static readonly MetricFamily MmCacheQueries = new("vllm:mm_cache_queries", MetricKind.Counter,
        "Multi-modal items looked up in the multi-modal cache (text-only models: stays at zero).", Common, MetricGroup.General);

    public static readonly MetricFamily MmCacheHits = new("vllm:mm_cache_hits", MetricKind.Counter,
        "Multi-modal items found in the multi-modal cache (text-only models: stays at zero).", Common, MetricGroup.General);

    // --- general: work done ---
    public static readonly MetricFamily NumPreemptions = new("vllm:num_preemptions", MetricKind.Counter,
        "Times a running request was preempted to free KV blocks.", Common, MetricGroup.General);

    public static readonly MetricFamily PromptTokens = new("vllm:prompt_tokens", MetricKind.Counter,
        "Prompt tokens of completed prefills, cached ones included.", Common, MetricGroup.General);

    public static readonly MetricFamily PromptTokensBySource = new("vllm:prompt_tokens_by_source", MetricKind.Counter,
        "Prompt tokens by where their KV came from; the sources add up to vllm:prompt_tokens.",
        With("source"), MetricGroup.General, LabelValues: Values("source", "local_compute", "local_cache_hit", "external_kv_transfer"));

    public static readonly MetricFamily PromptTokensCached = new("vllm:prompt_tokens_cached", MetricKind.Counter,
        "Prompt tokens that needed no computation (prefix-cache hits and external transfers).", Common, MetricGroup.General);

    public static readonly MetricFamily GenerationTokens = new("vllm:generation_tokens", MetricKind.Counter,
        "Output tokens generated.", Common, MetricGroup.General);

    public static readonly MetricFamily RequestSuccess = new("vllm:request_success", MetricKind.Counter,
        "Finished requests by finish reason (every finish, aborts and errors included).",
        With("finished_reason"), MetricGroup.General, LabelValues: Values("finished_reason", "stop", "length", "abort", "error", "repetition"));

    // --- general: per-request histograms ---
    public static readonly MetricFamily RequestPromptTokens = new("vllm:request_prompt_tokens", MetricKind.Histogram,
        "Prompt length of each finished request.", Common, MetricGroup.General, Buckets: Buckets.OneTwoFive);

    public static readonly MetricFamily RequestGenerationTokens = new("vllm:request_generation_tokens", MetricKind.Histogram,
        "Output length of each finished request.", Common, MetricGroup.General, Buckets: Buckets.OneTwoFive);

    public static readonly MetricFamily IterationTokens = new("vllm:iteration_tokens_total", MetricKind.Histogram,
        "Tokens per engine step: newly computed prompt tokens plus generated tokens.", Common, MetricGroup.General, Buckets: Buckets.IterationTokens);

    public static readonly MetricFamily RequestMaxNumGenerationTokens = new("vllm:request_max_num_generation_tokens", MetricKind.Histogram,
        "Longest output among the n samples of each finished request.", Common, MetricGroup.General, Buckets: Buckets.OneTwoFive);

    public static readonly MetricFamily RequestParamsN = new("vllm:request_params_n", MetricKind.Histogram,
        "The n sampling parameter of each finished request.", Common, MetricGroup.General, Buckets: Buckets.ParamsN);

    public static readonly MetricFamily RequestParamsMaxTokens = new("vllm:request_params_max_tokens", MetricKind.Histogram,
        "The max_tokens of each finished request.", Common, MetricGroup.General, Buckets: Buckets.OneTwoFive);

    public static readonly MetricFamily TimeToFirstToken = new("vllm:time_to_first_token_seconds", MetricKind.Histogram,
        "Arrival (before tokenization) to the first output token.", Common, MetricGroup.General, Buckets: Buckets.TimeToFirstToken);

    public static readonly MetricFamily InterTokenLatency = new("vllm:inter_token_latency_seconds", MetricKind.Histogram,
        "Time between consecutive output tokens of a decoding request.", Common, MetricGroup.General, Buckets: Buckets.InterTokenLatency);

    public static readonly MetricFamily RequestTimePerOutputToken = new("vllm:request_time_per_output_token_seconds", MetricKind.Histogram,
        "Per finished request: decode time divided by (output tokens - 1); 0 with one token or fewer.", Common, MetricGroup.General, Buckets: Buckets.InterTokenLatency);

    public static readonly MetricFamily E2eRequestLatency = new("vllm:e2e_request_latency_seconds", MetricKind.Histogram,
        "Arrival to the final output of each finished request.", Common, MetricGroup.General, Buckets: Buckets.RequestLatency);

    public static readonly MetricFamily RequestQueueTime = new("vllm:request_queue_time_seconds", MetricKind.Histogram,
        "Queued to first scheduled, per finished request.", Common, MetricGroup.General, Buckets: Buckets.RequestLatency);

    public static readonly MetricFamily RequestInferenceTime = new("vllm:request_inference_time_seconds", MetricKind.Histogram,
        "First scheduled to last token (prefill and decode, preemption gaps included), per finished request.", Common, MetricGroup.General, Buckets: Buckets.RequestLatency);

    public static readonly MetricFamily RequestPrefillTime = new("vllm:request_prefill_time_seconds", MetricKind.Histogram,
        "First scheduled to first token, per finished request.", Common, MetricGroup.General, Buckets: Buckets.RequestLatency);

    public static readonly MetricFamily RequestDecodeTime = new("vllm:request_decode_time_seconds", MetricKind.Histogram,
        "First token to last token, per finished request.", Common, MetricGroup.General, Buckets: Buckets.RequestLatency);

    public static readonly MetricFamily RequestPrefillKvComputedTokens = new("vllm:request_prefill_kv_computed_tokens", MetricKind.Histogram,
        "Prompt tokens whose KV had to be computed (prompt minus cached), per finished request.", Common, MetricGroup.General, Buckets: Buckets.OneTwoFive);

    public static readonly MetricFamily RequestNumPreemptions = new("vllm:request_num_preemptions", MetricKind.Histogram,
        "Times each finished request was preempted (0 included).", Common, MetricGroup.General, Buckets: Buckets.Preemptions);

    /// <summary>
    /// vLLM PR #55812: a reason label named after the limit that refused (vLLM's --max-num-queued-reqs and
    /// --max-num-queued-tokens), no engine label (admission happens before any engine); one count per refused request, n > 1 included.
    /// </summary>
    public static readonly MetricFamily AdmissionRejections = new("vllm:admission_rejections", MetricKind.Counter,
        "Requests refused at admission (HTTP 503) by the queue limit they hit.",
        [ModelName, "reason"], MetricGroup.General, LabelValues: Values("reason", "max_num_queued_reqs", "max_num_queued_tokens"));

    // --- general: queue depth in tokens (vLLM PR #38025, declined upstream for its per-step loop; kept incrementally here) ---
    public static readonly MetricFamily NumTokensWaiting = new("vellum_num_tokens_waiting", MetricKind.Gauge,
        "Tokens of the sequences waiting for capacity (prompt, plus output so far for preempted ones): the prefill backlog behind vllm:num_requests_waiting.",
        Common, MetricGroup.General);

    public static readonly MetricFamily NumUncachedTokensWaiting = new("vellum_num_uncached_tokens_waiting", MetricKind.Gauge,
        "Of vellum_num_tokens_waiting, those the prefix cache did not hold when each sequence queued: what their prefills must compute.",
        Common, MetricGroup.General);

    // --- general: structured output (the project's own; vLLM has no structured-output families) ---
    public static readonly MetricFamily StructuredOutputRequests = new("vellum_structured_output_requests", MetricKind.Counter,
        "Requests whose output a constraint shapes, by kind: json (a JSON Schema), json_object, regex, choice (vLLM's structured_outputs fields).",
        [ModelName, "type"], MetricGroup.General, LabelValues: Values("type", "json", "json_object", "regex", "choice"));

    public static readonly MetricFamily StructuredOutputInvalidSchemas = new("vellum_structured_output_invalid_schemas", MetricKind.Counter,
        "Constraints refused with a 400, by why: unsupported_keyword (a JSON Schema keyword or form not supported), invalid_schema (malformed, or allows no value), unsupported_pattern (a regular expression that does not compile).",
        [ModelName, "reason"], MetricGroup.General, LabelValues: Values("reason", "unsupported_keyword", "invalid_schema", "unsupported_pattern"));

    public static readonly MetricFamily StructuredOutputCompileTime = new("vellum_structured_output_compile_seconds", MetricKind.Histogram,
        "Time to compile a constraint into a grammar, per compilation (requests served from the grammar cache compile nothing: requests minus this count are cache hits).",
        [ModelName], MetricGroup.General, Buckets: Buckets.GrammarCompile);

    public static readonly MetricFamily StructuredOutputMaskTime = new("vellum_structured_output_mask_seconds", MetricKind.Histogram,
        "Time per constrained row per step to mask its logits by its grammar and follow the sampled tokens: what structured output adds to a step.",
        Common, MetricGroup.General, Buckets: Buckets.GrammarMask);

    // --- general: sampled KV-block residency (--kv-cache-metrics) ---
    public static readonly MetricFamily KvBlockLifetime = new("vllm:kv_block_lifetime_seconds", MetricKind.Histogram,
        "Sampled KV blocks: allocation to eviction.", Common, MetricGroup.General, MetricCondition.KvCacheMetrics, Buckets.KvBlockResidency);

    public static readonly MetricFamily KvBlockIdleBeforeEvict = new("vllm:kv_block_idle_before_evict_seconds", MetricKind.Histogram,
        "Sampled KV blocks: last access to eviction.", Common, MetricGroup.General, MetricCondition.KvCacheMetrics, Buckets.KvBlockResidency);

    public static readonly MetricFamily KvBlockReuseGap = new("vllm:kv_block_reuse_gap_seconds", MetricKind.Histogram,
        "Sampled KV blocks: time between consecutive reuses by prefix hits.", Common, MetricGroup.General, MetricCondition.KvCacheMetrics, Buckets.KvBlockResidency);

    // --- general: LoRA ---
    /// <summary>
    /// Info-style, as vLLM's: the value is the Unix time of the update that set these labels, a new series whenever the
    /// adapter sets change (routers take the newest); no model_name or engine label.
    /// </summary>
    public static readonly MetricFamily LoraRequestsInfo = new("vllm:lora_requests_info", MetricKind.Gauge,
        "Running stats on lora requests.", ["max_lora", "waiting_lora_adapters", "running_lora_adapters"], MetricGroup.General, MetricCondition.Lora);

    /// <summary>
    /// The resident adapters, idle ones included, which drop out of vllm:lora_requests_info once their requests end
    /// (vLLM issue #45325): a router can still send an adapter's requests where it is loaded. Info-style, as that family.
    /// </summary>
    public static readonly MetricFamily LoraResidentInfo = new("vellum_lora_resident_info", MetricKind.Gauge,
        "LoRA adapters resident in a slot, running or idle, comma-joined; the value is the Unix time of the update.",
        ["max_lora", "resident_lora_adapters"], MetricGroup.General, MetricCondition.Lora);

    // --- general: configuration ---
    /// <summary>vLLM's CacheConfig attributes, as labels; there is no model_name label on this family.</summary>
    public static readonly MetricFamily CacheConfigInfo = new("vllm:cache_config_info", MetricKind.Gauge,
        "The KV-cache configuration as labels; the value is always 1.",
        [
            "block_size", "user_specified_block_size", "user_specified_mamba_block_size", "prefix_match_unit", "gpu_memory_utilization",
            "cache_dtype", "is_attention_free", "num_gpu_blocks_override", "sliding_window", "enable_prefix_caching",
            "prefix_caching_hash_algo", "prefix_cache_retention_interval", "kv_cache_dtype_skip_layers", "mamba_page_size_padded",
            "skip_page_size_padded", "mamba_block_size", "mamba_cache_dtype", "mamba_ssm_cache_dtype", "mamba_cache_mode",
            "replayssm_buffer_len", "use_replayssm", "use_kda_recoverssm", "num_gpu_blocks", "num_cpu_blocks", "kv_cache_size_tokens",
            "kv_cache_max_concurrency", "kv_sharing_fast_prefill", "kv_cache_memory_bytes", "kv_offloading_size", "kv_offloading_backend",
            "_block_size_resolved", Engine,
        ],
        MetricGroup.General);

    // --- MFU: registered always, moving only with --enable-mfu-metrics ---
    public static readonly MetricFamily EstimatedFlops = new("vllm:estimated_flops_per_gpu_total", MetricKind.Counter,
        "Estimated floating-point operations of the model steps (rate / 1e12 = TFLOPS).", Common, MetricGroup.Mfu);

    public static readonly MetricFamily EstimatedReadBytes = new("vllm:estimated_read_bytes_per_gpu_total", MetricKind.Counter,
        "Estimated bytes the model steps read from memory (weights and KV cache).", Common, MetricGroup.Mfu);

    public static readonly MetricFamily EstimatedWriteBytes = new("vllm:estimated_write_bytes_per_gpu_total", MetricKind.Counter,
        "Estimated bytes the model steps wrote to memory (new KV entries).", Common, MetricGroup.Mfu);

    // --- speculative decoding (--speculative-config) ---
    public static readonly MetricFamily SpecDecodeNumDrafts = new("vllm:spec_decode_num_drafts", MetricKind.Counter,
        "Draft-then-verify rounds (one per sequence per step that carried guesses). Mean acceptance length = 1 + accepted / drafts.",
        Common, MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding);

    public static readonly MetricFamily SpecDecodeNumDraftTokens = new("vllm:spec_decode_num_draft_tokens", MetricKind.Counter,
        "Guessed tokens proposed for verification.", Common, MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding);

    public static readonly MetricFamily SpecDecodeNumAcceptedTokens = new("vllm:spec_decode_num_accepted_tokens", MetricKind.Counter,
        "Guessed tokens the target accepted. Acceptance rate = accepted / draft tokens.", Common, MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding);

    /// <summary>Positions "0".."K-1" exist from start-up; K is num_speculative_tokens.</summary>
    public static readonly MetricFamily SpecDecodeNumAcceptedTokensPerPos = new("vllm:spec_decode_num_accepted_tokens_per_pos", MetricKind.Counter,
        "Accepted guesses by position in the round: a round accepting a guesses counts positions 0 to a-1 once each.",
        With("position"), MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding);

    public static readonly MetricFamily SpecDecodeDraftTime = new("vellum_spec_decode_draft_seconds", MetricKind.Histogram,
        "Time to propose the guesses of one round (draft model passes or n-gram lookup).",
        Common, MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding, Buckets.SpeculationRound);

    public static readonly MetricFamily SpecDecodeVerifyTime = new("vellum_spec_decode_verify_seconds", MetricKind.Histogram,
        "Time for the target to verify one round's guesses in one pass and accept or correct them.",
        Common, MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding, Buckets.SpeculationRound);

    public static readonly MetricFamily SpecDecodeRoundK = new("vellum_spec_decode_effective_k", MetricKind.Histogram,
        "Guesses proposed per round: num_speculative_tokens, or less near max_tokens, when lookup finds fewer, or as adaptive K (min_adaptive_k) moves it.",
        Common, MetricGroup.SpecDecode, MetricCondition.SpeculativeDecoding, Buckets.SpeculativeTokens);

    // --- NIXL KV connector group (--kv-transfer-config): one observation per completed read, on the decode side ---
    public static readonly MetricFamily NixlTransferTime = new("vllm:nixl_xfer_time_seconds", MetricKind.Histogram,
        "Duration of each completed KV read: from posting the read to its last byte in the decode worker's KV cache.",
        Common, MetricGroup.Nixl, MetricCondition.KvConnector, Buckets.NixlTransferTime);

    public static readonly MetricFamily NixlPostTime = new("vllm:nixl_post_time_seconds", MetricKind.Histogram,
        "Time to post each KV read: from sending the read until the prefill worker has accepted it and starts streaming.",
        Common, MetricGroup.Nixl, MetricCondition.KvConnector, Buckets.NixlPostTime);

    public static readonly MetricFamily NixlBytesTransferred = new("vllm:nixl_bytes_transferred", MetricKind.Histogram,
        "Bytes of each completed KV read: blocks read × bytes per block.", Common, MetricGroup.Nixl, MetricCondition.KvConnector, Buckets.NixlBytes);

    public static readonly MetricFamily NixlNumDescriptors = new("vllm:nixl_num_descriptors", MetricKind.Histogram,
        "Descriptors of each completed KV read: contiguous memory regions read, one per block, layer, key or value, and KV head.",
        Common, MetricGroup.Nixl, MetricCondition.KvConnector, Buckets.NixlDescriptors);

    public static readonly MetricFamily NixlNumFailedTransfers = new("vllm:nixl_num_failed_transfers", MetricKind.Counter,
        "KV reads that failed (handshake refused, blocks expired or unknown, connection lost); each request fell back to computing its prompt.",
        Common, MetricGroup.Nixl, MetricCondition.KvConnector);

    public static readonly MetricFamily NixlNumFailedNotifications = new("vllm:nixl_num_failed_notifications", MetricKind.Counter,
        "Notifications to the prefill worker that its held KV may be freed that could not be delivered.",
        Common, MetricGroup.Nixl, MetricCondition.KvConnector);

    /// <summary>vLLM PR #58874: requests a P/D consumer is fetching prompt KV for, by where the fetch stands.</summary>
    public static readonly MetricFamily NumRequestsKvFetchByStage = new("vllm:num_requests_kv_fetch_by_stage", MetricKind.Gauge,
        "Requests reading their prompt's KV from a prefill worker, by stage: queued (waiting for a slot and blocks to read into), handshake (connecting, comparing layouts, read posted and not yet accepted), transferring (blocks arriving).",
        With("stage"), MetricGroup.Nixl, MetricCondition.KvConsumer, LabelValues: Values("stage", "queued", "handshake", "transferring"));

    public static readonly MetricFamily NixlNumKvExpiredReqs = new("vllm:nixl_num_kv_expired_reqs", MetricKind.Counter,
        "Requests whose held KV nobody read before the abort timeout (counted on the prefill worker, which then freed it).",
        Common, MetricGroup.Nixl, MetricCondition.KvConnector);

    // --- vLLM's retired names, kept as hidden aliases for the dashboards and routers that still query them:
    // deprecated in 0.1, hidden from 0.2 unless --show-hidden-metrics-for-version=0.1, removed in 0.3. ---
    private static readonly Version AliasesDeprecatedIn = new(0, 1);

    public static readonly MetricFamily GpuCacheUsagePerc = new("vllm:gpu_cache_usage_perc", MetricKind.Gauge,
        "Fraction (0 to 1) of KV-cache blocks held by running requests.", Common, MetricGroup.General,
        Deprecated: new Deprecation(AliasesDeprecatedIn, KvCacheUsage.Name));

    public static readonly MetricFamily GpuPrefixCacheQueries = new("vllm:gpu_prefix_cache_queries", MetricKind.Counter,
        "Prompt tokens of new requests looked up in the prefix cache.", Common, MetricGroup.General,
        Deprecated: new Deprecation(AliasesDeprecatedIn, PrefixCacheQueries.Name));

    public static readonly MetricFamily GpuPrefixCacheHits = new("vllm:gpu_prefix_cache_hits", MetricKind.Counter,
        "Looked-up prompt tokens found in the prefix cache.", Common, MetricGroup.General,
        Deprecated: new Deprecation(AliasesDeprecatedIn, PrefixCacheHits.Name));

    public static readonly MetricFamily TimePerOutputToken = new("vllm:time_per_output_token_seconds", MetricKind.Histogram,
        "Time between consecutive output tokens of a decoding request.", Common, MetricGroup.General, Buckets: Buckets.InterTokenLatency,
        Deprecated: new Deprecation(AliasesDeprecatedIn, InterTokenLatency.Name));

    // --- the worker API's own (Prometheus naming: no colon, _total on counters) ---
    public static readonly MetricFamily WorkerUnhandledErrors = new("vellum_worker_unhandled_errors", MetricKind.Counter,
        "Requests whose handling threw an exception no handler expected: each got a 500 with an OpenAI-style error and was logged with its trace. Should stay at zero.",
        [], MetricGroup.WorkerApi);

    // --- the gateway's own (Prometheus naming: no colon, unit suffix, _total on counters) ---
    public static readonly MetricFamily GatewayRequests = new("vellum_gateway_requests", MetricKind.Counter,
        "Requests the gateway answered, by route, status code and the worker that served them.",
        ["route", "status", "upstream"], MetricGroup.Gateway);

    public static readonly MetricFamily GatewayUpstreamTimeToFirstByte = new("vellum_gateway_upstream_time_to_first_byte_seconds", MetricKind.Histogram,
        "Time from forwarding a request to the first byte of the worker's response body (the first token when streaming).",
        ["route", "upstream"], MetricGroup.Gateway, Buckets: Buckets.TimeToFirstToken);

    public static readonly MetricFamily GatewayRequestsInFlight = new("vellum_gateway_requests_in_flight", MetricKind.Gauge,
        "Requests the gateway is forwarding now.", ["route"], MetricGroup.Gateway);

    public static readonly MetricFamily GatewayPrefillDecodeRequests = new("vellum_gateway_prefill_decode_requests", MetricKind.Counter,
        "Generation requests in P/D mode by what the gateway did: split (prefill leg, then decode leg with its KV), short_prompt (too few uncached prompt tokens to gain: decode worker alone), prefill_failed (the prefill leg failed: decode worker alone), prefill_refused (the prefill worker refused the request with a 4xx, passed to the client), prompt_logprobs (the answer needs the prompt's logits, prompt_logprobs or echo with logprobs, which a decode leg reading the KV never computes: decode worker alone).",
        ["decision"], MetricGroup.Gateway, LabelValues: Values("decision", "split", "short_prompt", "prefill_failed", "prefill_refused", "prompt_logprobs"));

    public static readonly MetricFamily GatewayPrefillLegTime = new("vellum_gateway_prefill_leg_seconds", MetricKind.Histogram,
        "Duration of each P/D prefill leg: the prefill worker computing the prompt and answering with its kv_transfer_params.",
        [], MetricGroup.Gateway, Buckets: Buckets.TimeToFirstToken);

    public static readonly MetricFamily GatewayRetries = new("vellum_gateway_retries", MetricKind.Counter,
        "Requests that failed on a worker before any byte reached the client (refused, reset, no headers in time, 502/503/504) and were sent to another worker, by the worker that failed.",
        ["upstream"], MetricGroup.Gateway);

    public static readonly MetricFamily GatewayBrokenStreams = new("vellum_gateway_broken_streams", MetricKind.Counter,
        "Streams whose worker failed after the stream had started: the client got an OpenAI-style error event and the stream ended. By the worker that failed.",
        ["upstream"], MetricGroup.Gateway);

    public static readonly MetricFamily GatewayRoutingDecisions = new("vellum_gateway_routing_decisions", MetricKind.Counter,
        "Workers the load-aware policy picked, by why: prefix (it most likely holds the prompt's prefix), load (the least loaded by its own fresh signals), least_in_flight (a signal was stale: fewest requests in flight from the gateway), only (one worker available).",
        ["reason"], MetricGroup.Gateway, LabelValues: Values("reason", "prefix", "load", "least_in_flight", "only"));

    public static readonly MetricFamily GatewayAvailableWorkers = new("vellum_gateway_available_workers", MetricKind.Gauge,
        "Workers the gateway can send requests to now, per cluster: destinations its active and passive health checks have not marked unhealthy. At zero the cluster answers 503.",
        ["cluster"], MetricGroup.Gateway);

    public static IReadOnlyList<MetricFamily> Families { get; } =
    [
        NumRequestsRunning, NumRequestsWaiting, NumRequestsWaitingByReason, EngineSleepState, KvCacheUsage, CorruptedRequests,
        PrefixCacheQueries, PrefixCacheHits, ExternalPrefixCacheQueries, ExternalPrefixCacheHits, MmCacheQueries, MmCacheHits,
        NumPreemptions, PromptTokens, PromptTokensBySource, PromptTokensCached, GenerationTokens, RequestSuccess,
        RequestPromptTokens, RequestGenerationTokens, IterationTokens, RequestMaxNumGenerationTokens, RequestParamsN, RequestParamsMaxTokens,
        TimeToFirstToken, InterTokenLatency, RequestTimePerOutputToken, E2eRequestLatency, RequestQueueTime, RequestInferenceTime,
        RequestPrefillTime, RequestDecodeTime, RequestPrefillKvComputedTokens, RequestNumPreemptions, AdmissionRejections,
        NumTokensWaiting, NumUncachedTokensWaiting,
        StructuredOutputRequests, StructuredOutputInvalidSchemas, StructuredOutputCompileTime, StructuredOutputMaskTime,
        KvBlockLifetime, KvBlockIdleBeforeEvict, KvBlockReuseGap, LoraRequestsInfo, LoraResidentInfo, CacheConfigInfo,
        EstimatedFlops, EstimatedReadBytes, EstimatedWriteBytes,
        SpecDecodeNumDrafts, SpecDecodeNumDraftTokens, SpecDecodeNumAcceptedTokens, SpecDecodeNumAcceptedTokensPerPos,
        SpecDecodeDraftTime, SpecDecodeVerifyTime, SpecDecodeRoundK,
        NixlTransferTime, NixlPostTime, NixlBytesTransferred, NixlNumDescriptors, NixlNumFailedTransfers, NixlNumFailedNotifications, NixlNumKvExpiredReqs,
        NumRequestsKvFetchByStage,
        GpuCacheUsagePerc, GpuPrefixCacheQueries, GpuPrefixCacheHits, TimePerOutputToken,
        WorkerUnhandledErrors,
        GatewayRequests, GatewayUpstreamTimeToFirstByte, GatewayRequestsInFlight, GatewayPrefillDecodeRequests, GatewayPrefillLegTime,
        GatewayRetries, GatewayBrokenStreams, GatewayRoutingDecisions, GatewayAvailableWorkers,
    ];

    /// <summary>
    /// The load signals routers poll every 50 ms with name[] (the Gateway API Inference Extension's, AIBrix's, this
    /// gateway's): served by a collection of these alone, so a poll does not pay for every family.
    /// </summary>
    public static IReadOnlyList<MetricFamily> LoadSignals { get; } =
    [
        NumRequestsRunning, NumRequestsWaiting, NumRequestsWaitingByReason, KvCacheUsage, GpuCacheUsagePerc, EngineSleepState,
        NumTokensWaiting, NumUncachedTokensWaiting, LoraRequestsInfo, LoraResidentInfo,
    ];

    private static readonly Dictionary<string, MetricFamily> ByName = Families.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public static MetricFamily? Find(string instrumentName) => ByName.GetValueOrDefault(instrumentName);

    /// <summary>The meter a family is recorded on: vLLM's names on "vllm", the project's own on "vellum".</summary>
    public static string MeterOf(MetricFamily family) => family.Name.StartsWith("vllm:", StringComparison.Ordinal) ? VllmMeter : VellumMeter;
}
