namespace Worker.Options;

/// <summary>
/// vLLM's VLLM_ALLOW_RUNTIME_LORA_UPDATING: /v1/load_lora_adapter and /v1/unload_lora_adapter exist only when it is
/// true, so that no client of a production endpoint changes what the worker serves.
/// </summary>
public static class RuntimeLoraUpdating
{
    public const string Variable = "VLLM_ALLOW_RUNTIME_LORA_UPDATING";

    public static bool IsEnabled(IConfiguration configuration) => configuration[Variable]?.Trim().ToLowerInvariant() is "1" or "true";
}
