using Worker.Engine;
using Worker.Runner;

namespace Worker.Api;

/// <summary>
/// A validated completion or chat request: tokenized prompts, how to sample each, its kv_transfer_params (P/D), the
/// LoRA adapter its model names (null: the base), and with echo the prompts' texts each choice begins with
/// (<paramref name="EchoOnly"/>: max_tokens 0, the prompt alone: the engine samples one token that is not shown).
/// </summary>
internal sealed record GenerationRequest(
    string RequestId,
    string Model,
    RequestArrival Arrival,
    IReadOnlyList<int[]> Prompts,
    IReadOnlyList<SamplingParams> Sampling,
    bool Stream,
    bool IncludeUsage,
    bool IncludeMetrics,
    KvTransfer.KvTransferParams? KvTransfer = null,
    LoraRequest? Lora = null,
    IReadOnlyList<string>? Echo = null,
    bool EchoOnly = false)
{
    /// <summary>Choices per prompt; choice index = prompt index × n + sample index, as OpenAI numbers them.</summary>
    public int N => Sampling[0].N;

    public int ChoiceCount => Prompts.Count * N;
}
