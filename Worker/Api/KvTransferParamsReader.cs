using Worker.KvTransfer;
using K = MetricsContract.KvTransferContract;

namespace Worker.Api;

/// <summary>
/// Reads a request's kv_transfer_params (vLLM's P/D protocol, as its proxy sends them). A decode leg
/// (do_remote_prefill) must say where the KV is held; anything else in the object is vLLM's and passes unread.
/// </summary>
internal static class KvTransferParamsReader
{
    public static KvTransferParams? Read(JsonFields fields, int promptCount)
    {
        if (fields.Object(K.Field) is not { } kv)
        {
            return null;
        }
        if (promptCount != 1)
        {
            throw ApiException.BadRequest("'kv_transfer_params' applies to a request with one prompt.", "kv_transfer_params");
        }
        var remotePrefill = kv.Bool(K.DoRemotePrefill) ?? false;
        var parameters = new KvTransferParams(
            DoRemoteDecode: kv.Bool(K.DoRemoteDecode) ?? false,
            DoRemotePrefill: remotePrefill,
            RemoteEngineId: kv.String(K.RemoteEngineId),
            RemoteBlockIds: kv.Get(K.RemoteBlockIds) is null ? null : kv.Integers(K.RemoteBlockIds),
            RemoteHost: kv.String(K.RemoteHost),
            RemotePort: (int?)kv.Integer(K.RemotePort, 1, 65535),
            RemoteRequestId: kv.String(K.RemoteRequestId),
            RemoteNumTokens: (int?)kv.Integer(K.RemoteNumTokens, 0, int.MaxValue));
        if (remotePrefill)
        {
            foreach (var (name, value) in new (string, object?)[]
            {
                (K.RemoteEngineId, parameters.RemoteEngineId), (K.RemoteBlockIds, parameters.RemoteBlockIds), (K.RemoteHost, parameters.RemoteHost),
                (K.RemotePort, parameters.RemotePort), (K.RemoteRequestId, parameters.RemoteRequestId),
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
