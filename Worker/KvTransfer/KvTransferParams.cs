namespace Worker.KvTransfer;

/// <summary>
/// A request's kv_transfer_params, vLLM's P/D protocol. On a prefill leg, <see cref="DoRemoteDecode"/>: compute the
/// prompt and hold its KV for a decode worker. On a decode leg, <see cref="DoRemotePrefill"/> with where that KV is
/// (remote_engine_id, remote_block_ids, remote_host, remote_port, remote_request_id): read it instead of computing it.
/// </summary>
public sealed record KvTransferParams(
    bool DoRemoteDecode,
    bool DoRemotePrefill,
    string? RemoteEngineId = null,
    IReadOnlyList<int>? RemoteBlockIds = null,
    string? RemoteHost = null,
    int? RemotePort = null,
    string? RemoteRequestId = null,
    int? RemoteNumTokens = null)
{
    /// <summary>What a producer answers the prefill leg with: everything the decode leg needs to read the held KV.</summary>
    public static Dictionary<string, object?> HeldResponse(string engineId, string host, int port, string transferId, IReadOnlyList<int> blockIds, int tokens,
        DateTimeOffset expires) => new()
        {
            ["do_remote_prefill"] = true,
            ["do_remote_decode"] = false,
            ["remote_block_ids"] = blockIds,
            ["remote_engine_id"] = engineId,
            ["remote_request_id"] = transferId,
            ["remote_host"] = host,
            ["remote_port"] = port,
            ["remote_num_tokens"] = tokens,
            ["remote_blocks_expiry_time"] = expires.ToUnixTimeMilliseconds() / 1000.0,
            ["tp_size"] = 1,
        };
}
