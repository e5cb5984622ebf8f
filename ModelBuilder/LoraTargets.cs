namespace ModelBuilder;

/// <summary>
/// Where a LoRA-ready decoder takes adapter weights: as graph inputs named the way ONNX Runtime GenAI's model builder
/// names them (<c>model.layers.N.attn.q_proj.lora_A.MatMul.weight</c> [in, r] and <c>…lora_B.MatMul.weight</c> [r, out],
/// B already scaled by alpha / r), each defaulting to a zero-rank initializer so that a run without an adapter is the
/// base model. The attention's q_proj and v_proj (PEFT's default targets for Llama) and the lm_head, whose low-rank
/// update reaches the logits without the final norm in between, so that an adapter visibly changes what is generated.
/// </summary>
public static class LoraTargets
{
    public const string RankDim = "lora_r";

    public static readonly string[] Modules = ["q_proj", "v_proj", "lm_head"];

    public static string A(string module, int layer) => $"{Prefix(module, layer)}.lora_A.MatMul.weight";

    public static string B(string module, int layer) => $"{Prefix(module, layer)}.lora_B.MatMul.weight";

    /// <summary>Every module one decoder of <paramref name="layers"/> layers exposes, with its base weight's [in, out].</summary>
    public static IEnumerable<(string Module, int Layer, int In, int Out)> Of(ModelShape shape, int vocab)
    {
        for (var layer = 0; layer < shape.Layers; layer++)
        {
            yield return ("q_proj", layer, shape.Hidden, shape.Heads * shape.HeadSize);
            yield return ("v_proj", layer, shape.Hidden, shape.KvHeads * shape.HeadSize);
        }
        yield return ("lm_head", -1, shape.Hidden, vocab);
    }

    private static string Prefix(string module, int layer) => module == "lm_head" ? "lm_head" : $"model.layers.{layer}.attn.{module}";
}
