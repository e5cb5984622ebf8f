using System.Text.Json;

namespace MetricsContract;

/// <summary>
/// vLLM's P/D protocol as JSON, one owner for every side: the fields of a request's and a response's
/// kv_transfer_params (the worker reads and answers them, the gateway's legs send them) and the --kv-transfer-config
/// a worker takes (the AppHost writes it, the worker parses it).
/// </summary>
public static class KvTransferContract
{
    /// <summary>The request and response field that carries the parameters.</summary>
    public const string Field = "kv_transfer_params";

    public const string DoRemoteDecode = "do_remote_decode";
    public const string DoRemotePrefill = "do_remote_prefill";
    public const string RemoteEngineId = "remote_engine_id";
    public const string RemoteBlockIds = "remote_block_ids";
    public const string RemoteHost = "remote_host";
    public const string RemotePort = "remote_port";
    public const string RemoteRequestId = "remote_request_id";
    public const string RemoteNumTokens = "remote_num_tokens";
    public const string RemoteBlocksExpiryTime = "remote_blocks_expiry_time";
    public const string TpSize = "tp_size";

    /// <summary>--kv-transfer-config's connector: this project's TCP transport, in vLLM's config shape.</summary>
    public const string ConnectorName = "TcpKvConnector";
    public const string Producer = "kv_producer";
    public const string Consumer = "kv_consumer";
    public const string Both = "kv_both";

    /// <summary>What the prefill leg sends, as vLLM's proxy does: compute the prompt and hold its KV for a decode worker.</summary>
    public static Dictionary<string, object?> PrefillLeg() => new()
    {
        [DoRemoteDecode] = true,
        [DoRemotePrefill] = false,
        [RemoteEngineId] = null,
        [RemoteBlockIds] = null,
        [RemoteHost] = null,
        [RemotePort] = null,
    };

    /// <summary>What a producer answers the prefill leg with: everything the decode leg needs to read the held KV.</summary>
    public static Dictionary<string, object?> Held(string engineId, string host, int port, string transferId, IReadOnlyList<int> blockIds, int tokens,
        DateTimeOffset expires) => new()
        {
            [DoRemotePrefill] = true,
            [DoRemoteDecode] = false,
            [RemoteBlockIds] = blockIds,
            [RemoteEngineId] = engineId,
            [RemoteRequestId] = transferId,
            [RemoteHost] = host,
            [RemotePort] = port,
            [RemoteNumTokens] = tokens,
            [RemoteBlocksExpiryTime] = expires.ToUnixTimeMilliseconds() / 1000.0,
            [TpSize] = 1,
        };

    /// <summary>
    /// A worker's --kv-transfer-config: the role, and for a producer where it listens for reads (kv_ip, kv_port) and the
    /// host its answers name (kv_connector_extra_config.advertise_host) when that is not the address it listens on.
    /// </summary>
    public static string Config(string role, string? ip = null, int? port = null, string? advertiseHost = null)
    {
        var config = new Dictionary<string, object?> { ["kv_connector"] = ConnectorName, ["kv_role"] = role };
        if (ip is not null)
        {
            config["kv_ip"] = ip;
        }
        if (port is not null)
        {
            config["kv_port"] = port;
        }
        if (advertiseHost is not null)
        {
            config["kv_connector_extra_config"] = new Dictionary<string, object?> { ["advertise_host"] = advertiseHost };
        }
        return JsonSerializer.Serialize(config);
    }
}
