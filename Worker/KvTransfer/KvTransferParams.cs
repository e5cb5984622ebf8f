namespace Worker.KvTransfer;

/// <summary>
/// A request's kv_transfer_params, vLLM's P/D protocol. On a prefill leg, <see cref="DoRemoteDecode"/>: compute the
/// prompt and hold its KV for a decode worker. On a decode leg, <see cref="DoRemotePrefill"/> with where that KV is
/// (remote_engine_id, remote_block_ids, remote_host, remote_port, remote_request_id): read it instead of computing it.
/// Field names and the response's shape: <see cref="MetricsContract.KvTransferContract"/>.
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
;
