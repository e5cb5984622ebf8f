using Worker.KvTransfer;

namespace Worker.Api;

/// <summary>
/// Reads a request's kv_transfer_params (vLLM's P/D protocol, as its proxy sends them). A decode leg
/// (do_remote_prefill) must say where the KV is held; anything else in the object is vLLM's and passes unread.
/// </summary>
internal static class KvTransferParamsReader
{
    public static KvTransferParams? Read(JsonFields fields, int promptCount)
    {
        if (fields.Object("kv_transfer_params") is not { } kv)
        {
            return null;
        }
        if (promptCount != 1)
        {
            throw ApiException.BadRequest("'kv_transfer_params' applies to a request with one prompt.", "kv_transfer_params");
        }
        var remotePrefill = kv.Bool("do_remote_prefill") ?? false;
        var parameters = new KvTransferParams(
            DoRemoteDecode: kv.Bool("do_remote_decode") ?? false,
            DoRemotePrefill: remotePrefill,
            RemoteEngineId: kv.String("remote_engine_id"),
            RemoteBlockIds: kv.Get("remote_block_ids") is null ? null : kv.Integers("remote_block_ids"),
            RemoteHost: kv.String("remote_host"),
            RemotePort: (int?)kv.Integer("remote_port", 1, 65535),
            RemoteRequestId: kv.String("remote_request_id"),
            RemoteNumTokens: (int?)kv.Integer("remote_num_tokens", 0, int.MaxValue));
        if (remotePrefill)
        {
            foreach (var (name, value) in new (string, object?)[]
            {
                ("remote_engine_id", parameters.RemoteEngineId), ("remote_block_ids", parameters.RemoteBlockIds), ("remote_host", parameters.RemoteHost),
                ("remote_port", parameters.RemotePort), ("remote_request_id", parameters.RemoteRequestId),
            })
            {
                if (value is null)
                {
                    throw ApiException.BadRequest($"'{kv.Param(name)}' is required with do_remote_prefill: it says where the prompt's KV is held.", kv.Param(name));
                }
            }
        }
        return parameters;
    }
}
