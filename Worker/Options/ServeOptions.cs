namespace Worker.Options;

/// <summary>
/// How the worker serves. Bound from configuration section "Worker": appsettings.json, environment
/// variables (Worker__MaxNumSeqs=8) and vLLM-style command-line flags (--max-num-seqs 8) all land here.
/// </summary>
public sealed class ServeOptions
{
    public const string Section = "Worker";

    /// <summary>--model: a model folder. Empty: the embedded default tiny model, built on first start.</summary>
    public string? Model { get; set; }

    /// <summary>--served-model-name: names clients use; the first one labels metrics. Default: the --model value.</summary>
    public List<string> ServedModelName { get; set; } = [];

    /// <summary>--device: cpu, or cuda in a build made with -p:ExecutionProvider=cuda.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>--max-num-seqs: the most sequences that run at once.</summary>
    public int MaxNumSeqs { get; set; } = 16;

    /// <summary>
    /// --max-num-batched-tokens: tokens one step may compute, decode and prefill together. Default: 128 on CPU, where a
    /// prompt token costs about a millisecond on the small model, so a long prompt arriving holds running streams up
    /// by about a tenth of a second a step (vLLM's 2048 on a GPU is about as long); 2048 on CUDA.
    /// </summary>
    public int? MaxNumBatchedTokens { get; set; }

    /// <summary>--enable-chunked-prefill / --no-enable-chunked-prefill: split long prompts across steps (on by default, as in vLLM V1).</summary>
    public bool EnableChunkedPrefill { get; set; } = true;

    /// <summary>--long-prefill-token-threshold: the most prompt tokens one sequence prefills in a step; 0 for no limit but the budget.</summary>
    public int LongPrefillTokenThreshold { get; set; }

    /// <summary>--max-model-len: context length (prompt + output). Default: the model's context_length.</summary>
    public int? MaxModelLen { get; set; }

    /// <summary>--block-size: tokens per KV-cache block.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>--kv-cache-memory-bytes: the KV-cache budget. Default: 4 GiB on CPU (vLLM's CPU default); on CUDA, from --gpu-memory-utilization.</summary>
    public long? KvCacheMemoryBytes { get; set; }

    /// <summary>--gpu-memory-utilization: on CUDA, the fraction of the device's memory for weights and KV cache.</summary>
    public double GpuMemoryUtilization { get; set; } = 0.9;

    /// <summary>--num-gpu-blocks-override: an exact number of KV blocks, whatever the memory budget says.</summary>
    public int? NumGpuBlocksOverride { get; set; }

    /// <summary>--enable-prefix-caching / --no-enable-prefix-caching: keep finished sequences' caches for reuse.</summary>
    public bool EnablePrefixCaching { get; set; } = true;

    /// <summary>
    /// --max-num-queued-requests: sequences (each prompt × n, as vLLM's engine fans n out) waiting for their first
    /// schedule beyond which new requests get 503. Default: the KV cache's block count, at most 64 × --max-num-seqs.
    /// </summary>
    public int? MaxNumQueuedRequests { get; set; }

    /// <summary>
    /// --max-num-queued-tokens: prompt tokens (× n) waiting for their first schedule beyond which new requests get 503.
    /// Default: the tokens the KV cache holds.
    /// </summary>
    public long? MaxNumQueuedTokens { get; set; }

    /// <summary>--max-sequences-per-request: prompts × n that one request may ask for.</summary>
    public int MaxSequencesPerRequest { get; set; } = 256;

    /// <summary>--max-stop-sequences: strings one request may give in "stop" (OpenAI allows 4).</summary>
    public int MaxStopSequences { get; set; } = 16;

    /// <summary>--max-stop-sequence-length: characters of the longest stop string.</summary>
    public int MaxStopSequenceLength { get; set; } = 1024;

    /// <summary>--max-stop-token-ids: ids one request may give in "stop_token_ids".</summary>
    public int MaxStopTokenIds { get; set; } = 1024;

    /// <summary>--max-logprobs: the most top logprobs a request may ask for per token (vLLM's default 20; -1: the whole vocabulary).</summary>
    public int MaxLogprobs { get; set; } = 20;

    /// <summary>--logprobs-mode: raw_logprobs (vLLM's default), raw_logits, processed_logprobs or processed_logits.</summary>
    public string LogprobsMode { get; set; } = "raw_logprobs";

    /// <summary>--request-timeout: seconds a request may take in all before it is aborted (none by default).</summary>
    public double? RequestTimeout { get; set; }

    /// <summary>--enable-per-request-metrics: responses may carry timing metrics (request field include_metrics) and Server-Timing.</summary>
    public bool EnablePerRequestMetrics { get; set; }

    /// <summary>
    /// --intra-op-threads: ONNX Runtime threads inside one model step. Default: ONNX Runtime's (one per physical
    /// core), which serves a single stream best; 1 lets parallel sequences each take a core (more throughput at
    /// high concurrency, slower single streams). See README "Performance".
    /// </summary>
    public int? IntraOpThreads { get; set; }

    /// <summary>
    /// --speculative-config: JSON, as vLLM takes it: {"method":"draft_model","model":PATH,"num_speculative_tokens":K}
    /// or {"method":"ngram","num_speculative_tokens":K,"prompt_lookup_max":N,"prompt_lookup_min":M}.
    /// </summary>
    public string? SpeculativeConfig { get; set; }

    /// <summary>--structured-outputs-config: JSON, as vLLM takes it: {"disable_any_whitespace": true} (see <see cref="Options.StructuredOutputsConfig"/>).</summary>
    public string? StructuredOutputsConfig { get; set; }

    /// <summary>
    /// --kv-transfer-config: JSON, as vLLM takes it, for prefill/decode disaggregation:
    /// {"kv_connector":"TcpKvConnector","kv_role":"kv_producer|kv_consumer|kv_both","kv_ip":"127.0.0.1","kv_port":14579}.
    /// </summary>
    public string? KvTransferConfig { get; set; }

    /// <summary>--enable-lora: serve LoRA adapters (from --lora-modules, or loaded at runtime) on a LoRA-ready model.</summary>
    public bool EnableLora { get; set; }

    /// <summary>
    /// --lora-modules: adapters served from start-up, each "name=path" or vLLM's JSON form
    /// {"name":…,"path":…,"base_model_name":…}. With the embedded default model and none given, its own adapters.
    /// </summary>
    public List<string> LoraModules { get; set; } = [];

    /// <summary>--max-loras: adapters resident at once (a step runs only resident ones); others wait for a slot.</summary>
    public int MaxLoras { get; set; } = 1;

    /// <summary>--max-lora-rank: the highest rank an adapter may have.</summary>
    public int MaxLoraRank { get; set; } = 16;

    /// <summary>--max-cpu-loras: adapters kept loaded in memory, at least --max-loras. Default: --max-loras.</summary>
    public int? MaxCpuLoras { get; set; }

    /// <summary>--download-dir: where built models are cached. Default: $XDG_CACHE_HOME/vellum or ~/.cache/vellum.</summary>
    public string? DownloadDir { get; set; }
}
