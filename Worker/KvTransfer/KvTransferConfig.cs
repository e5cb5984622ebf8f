using System.Globalization;
using System.Text.Json;

namespace Worker.KvTransfer;

/// <summary>Which side of a prefill/decode split a worker takes (vLLM's kv_role).</summary>
public enum KvRole
{
    /// <summary>kv_producer: prefills requests marked do_remote_decode and holds their KV for a decode worker to read.</summary>
    Producer,
    /// <summary>kv_consumer: reads the KV of requests marked do_remote_prefill instead of computing their prompts.</summary>
    Consumer,
    /// <summary>kv_both: either, per request.</summary>
    Both,
}

/// <summary>
/// --kv-transfer-config, as vLLM takes it: {"kv_connector":"TcpKvConnector","kv_role":"kv_producer|kv_consumer|kv_both"}
/// plus vLLM's kv_ip and kv_port (where a producer serves its held KV; port 0 takes any free port), engine_id, and
/// kv_connector_extra_config.abort_request_timeout (seconds a producer holds KV nobody reads; default
/// VLLM_NIXL_ABORT_REQUEST_TIMEOUT or 480, as vLLM's) and .advertise_host. The connector is named after what it is: KV blocks pulled over
/// TCP, straight between the two runners' KV arenas. NIXL itself has no .NET binding.
/// </summary>
/// <param name="AdvertiseHost">kv_connector_extra_config.advertise_host: the name decode workers reach this one by, when
/// kv_ip listens on every address (a container's service name); default kv_ip, or the machine's name for 0.0.0.0.</param>
public sealed record KvTransferConfig(KvRole Role, string Host, int Port, string EngineId, TimeSpan AbortRequestTimeout, string? AdvertiseHost = null)
{
    public const string ConnectorName = "TcpKvConnector";
    public const int DefaultPort = 14579;

    /// <summary>vLLM's KVTransferConfig fields: accepted (most have no meaning here), anything else is refused.</summary>
    private static readonly HashSet<string> KnownFields =
    [
        "kv_connector", "kv_role", "kv_ip", "kv_port", "engine_id", "kv_connector_extra_config", "kv_buffer_device", "kv_buffer_size",
        "kv_rank", "kv_parallel_size", "kv_connector_module_path", "enable_permute_local_kv", "kv_load_failure_policy",
    ];

    public bool Produces => Role is KvRole.Producer or KvRole.Both;

    public bool Consumes => Role is KvRole.Consumer or KvRole.Both;

    /// <summary>Reads and checks the JSON; a malformed config stops the worker at start-up, naming what is wrong.</summary>
    public static KvTransferConfig Parse(string json)
    {
        var root = Options.JsonSetting.ParseObject(json, Invalid);
        if (root.EnumerateObject().Select(p => p.Name).FirstOrDefault(name => !KnownFields.Contains(name)) is { } unknown)
        {
            throw Invalid($"\"{unknown}\" is not a field of vLLM's KV transfer config");
        }
        var connector = String(root, "kv_connector") ?? throw Invalid($"\"kv_connector\" is required (\"{ConnectorName}\")");
        if (connector != ConnectorName)
        {
            throw Invalid(connector == "NixlConnector"
                ? $"NixlConnector needs NIXL, which has no .NET binding; \"{ConnectorName}\" speaks the same request protocol (kv_transfer_params) over TCP"
                : $"\"kv_connector\" must be \"{ConnectorName}\"; got \"{connector}\"");
        }
        var role = String(root, "kv_role") switch
        {
            "kv_producer" => KvRole.Producer,
            "kv_consumer" => KvRole.Consumer,
            "kv_both" => KvRole.Both,
            null => throw Invalid("\"kv_role\" is required (kv_producer, kv_consumer or kv_both)"),
            var other => throw Invalid($"\"kv_role\" must be kv_producer, kv_consumer or kv_both; got \"{other}\""),
        };
        var port = root.TryGetProperty("kv_port", out var portValue) ? Int(portValue, "kv_port") : DefaultPort;
        if (port is < 0 or > 65535)
        {
            throw Invalid($"\"kv_port\" must be between 0 and 65535; got {port}");
        }
        var timeout = DefaultAbortRequestTimeout();
        string? advertiseHost = null;
        if (root.TryGetProperty("kv_connector_extra_config", out var extra) && extra.ValueKind == JsonValueKind.Object)
        {
            if (extra.TryGetProperty("abort_request_timeout", out var seconds))
            {
                timeout = seconds.ValueKind == JsonValueKind.Number && seconds.GetDouble() > 0
                    ? TimeSpan.FromSeconds(seconds.GetDouble())
                    : throw Invalid("\"kv_connector_extra_config.abort_request_timeout\" must be a positive number of seconds");
            }
            advertiseHost = String(extra, "advertise_host");
        }
        var host = String(root, "kv_ip") ?? "127.0.0.1";
        if (!System.Net.IPAddress.TryParse(host, out _))
        {
            throw Invalid($"\"kv_ip\" must be an IP address to listen on; got \"{host}\"");
        }
        return new KvTransferConfig(role, host, port, String(root, "engine_id") ?? Guid.NewGuid().ToString(), timeout, advertiseHost);
    }

    private static TimeSpan DefaultAbortRequestTimeout() =>
        double.TryParse(Environment.GetEnvironmentVariable("VLLM_NIXL_ABORT_REQUEST_TIMEOUT"), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(480);

    private static string? String(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw Invalid($"\"{name}\" must be a string");

    private static int Int(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : throw Invalid($"\"{name}\" must be an integer");

    private static InvalidOperationException Invalid(string why) => new($"--kv-transfer-config is invalid: {why}.");
}
