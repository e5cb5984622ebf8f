namespace Worker.Options;

/// <summary>
/// vLLM's VLLM_SERVER_DEV_MODE: endpoints that change the server's state for everyone (sleep, wake-up) exist only
/// when it is 1, so that no client of a production endpoint can put a worker to sleep.
/// </summary>
public static class ServerDevMode
{
    public const string Variable = "VLLM_SERVER_DEV_MODE";

    /// <summary>From the environment, or any configuration source under the same key.</summary>
    public static bool IsEnabled(IConfiguration configuration) => configuration[Variable] is "1" or "true" or "True";
}
