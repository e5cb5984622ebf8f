using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuilder;

/// <summary>
/// A small pre-LayerNorm decoder with learned positions and GroupQueryAttention (the com.microsoft op that
/// ONNX Runtime GenAI's model builder emits for production models), plus a shared bigram-logits table.
/// Inputs and outputs follow the GenAI decoder contract: input_ids, attention_mask, position_ids,
/// past_key_values.N.key|value → logits, present.N.key|value ([batch, kv_heads, seq, head_size]). A LoRA-ready
/// build also takes <see cref="LoraTargets"/>' inputs.
/// </summary>
internal static class DecoderGraph
{
    public static ModelProto Build(ModelShape shape, int vocab, float[] bigram, bool loraReady = false)
    {
        var rng = new SplitMix64(shape.Seed);
        var g = new OnnxGraphBuilder();
        var kvDims = new[] { "batch", shape.KvHeads.ToString(), "past_sequence_length", shape.HeadSize.ToString() };
        var presentDims = new[] { "batch", shape.KvHeads.ToString(), "total_sequence_length", shape.HeadSize.ToString() };

        var inputIds = g.Input("input_ids", DataType.Int64, "batch", "sequence_length");
        var attentionMask = g.Input("attention_mask", DataType.Int64, "batch", "total_sequence_length");
        var positionIds = g.Input("position_ids", DataType.Int64, "batch", "sequence_length");
        for (var l = 0; l < shape.Layers; l++)
        {
            g.Input($"past_key_values.{l}.key", DataType.Float, kvDims);
            g.Input($"past_key_values.{l}.value", DataType.Float, kvDims);
        }

        var h = shape.Hidden;
        var qWidth = shape.Heads * shape.HeadSize;
        var kvWidth = shape.KvHeads * shape.HeadSize;

        var x = g.Node("Add", [
            g.Node("Gather", [g.Weights("embed_tokens", Normal(rng, vocab * h, 1f), vocab, h), inputIds]),
            g.Node("Gather", [g.Weights("embed_positions", Normal(rng, shape.ContextLength * h, 0.1f), shape.ContextLength, h), positionIds]),
        ]);

        // GroupQueryAttention takes the per-row index of the last valid key and the total length as int32.
        var seqlensK = g.Node("Cast", [
            g.Node("Sub", [g.Node("ReduceSum", [attentionMask, g.Int64s("axis_1", 1)], ("keepdims", 0L)), g.ScalarInt64("one", 1)]),
        ], ("to", (long)DataType.Int32));
        var totalLength = g.Node("Cast", [
            g.Node("Gather", [g.Node("Shape", [attentionMask]), g.ScalarInt64("index_1", 1)]),
        ], ("to", (long)DataType.Int32));

        for (var l = 0; l < shape.Layers; l++)
        {
            var normed = LayerNorm(g, $"layers.{l}.attn_norm", x, h);
            var q = Projection(g, "q_proj", l, normed, g.Weights($"layers.{l}.q_proj", Normal(rng, h * qWidth, Scale(h)), h, qWidth), h, qWidth, loraReady);
            var k = g.Node("MatMul", [normed, g.Weights($"layers.{l}.k_proj", Normal(rng, h * kvWidth, Scale(h)), h, kvWidth)]);
            var v = Projection(g, "v_proj", l, normed, g.Weights($"layers.{l}.v_proj", Normal(rng, h * kvWidth, Scale(h)), h, kvWidth), h, kvWidth, loraReady);
            var attention = g.NodeWithOutputs("GroupQueryAttention",
                [q, k, v, $"past_key_values.{l}.key", $"past_key_values.{l}.value", seqlensK, totalLength],
                [$"layers.{l}.attention", $"present.{l}.key", $"present.{l}.value"],
                "com.microsoft",
                ("num_heads", (long)shape.Heads), ("kv_num_heads", (long)shape.KvHeads), ("scale", 1f / MathF.Sqrt(shape.HeadSize)))[0];
            x = g.Node("Add", [x, g.Node("MatMul", [attention, g.Weights($"layers.{l}.o_proj", Normal(rng, qWidth * h, Scale(qWidth)), qWidth, h)])]);

            var up = g.Node("Relu", [g.Node("MatMul", [LayerNorm(g, $"layers.{l}.ffn_norm", x, h), g.Weights($"layers.{l}.up_proj", Normal(rng, h * shape.Ffn, Scale(h)), h, shape.Ffn)])]);
            x = g.Node("Add", [x, g.Node("MatMul", [up, g.Weights($"layers.{l}.down_proj", Normal(rng, shape.Ffn * h, Scale(shape.Ffn)), shape.Ffn, h)])]);
        }

        // The transformer's contribution has std LogitNoiseStd per logit (LayerNorm output has unit variance),
        // so it perturbs the bigram prior by a known amount and depends on the whole KV cache.
        var transformerLogits = Projection(g, "lm_head", -1, LayerNorm(g, "final_norm", x, h),
            g.Weights("lm_head", Normal(rng, h * vocab, shape.LogitNoiseStd / MathF.Sqrt(h)), h, vocab), h, vocab, loraReady);
        var bigramLogits = g.Node("Gather", [g.Weights("bigram_logits", bigram, vocab, vocab), inputIds]);
        g.NodeWithOutputs("Add", [transformerLogits, bigramLogits], ["logits"], "");

        g.Output("logits", DataType.Float, "batch", "sequence_length", vocab.ToString());
        for (var l = 0; l < shape.Layers; l++)
        {
            g.Output($"present.{l}.key", DataType.Float, presentDims);
            g.Output($"present.{l}.value", DataType.Float, presentDims);
        }
        var model = g.ToModel();
        model.ModelVersion = ModelVersion(shape, vocab);
        return model;
    }

    /// <summary>
    /// The base's identity that its adapters carry (ModelProto.model_version, the adapter file's model_version): an
    /// adapter trained for another base is refused, not silently applied. Stable across builds of the same shape.
    /// </summary>
    public static int ModelVersion(ModelShape shape, int vocab)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{shape}|{vocab}"));
        return BitConverter.ToInt32(hash) & int.MaxValue;
    }

    /// <summary>x·W, plus (x·A)·B where the graph takes a LoRA adapter's A and B (zero rank unless one is given).</summary>
    private static string Projection(OnnxGraphBuilder g, string module, int layer, string input, string weight, int inWidth, int outWidth, bool loraReady)
    {
        var projected = g.Node("MatMul", [input, weight]);
        if (!loraReady)
        {
            return projected;
        }
        var a = g.InputWithDefault(LoraTargets.A(module, layer), DataType.Float, [inWidth.ToString(), LoraTargets.RankDim], [inWidth, 0]);
        var b = g.InputWithDefault(LoraTargets.B(module, layer), DataType.Float, [LoraTargets.RankDim, outWidth.ToString()], [0, outWidth]);
        return g.Node("Add", [projected, g.Node("MatMul", [g.Node("MatMul", [input, a]), b])]);
    }

    private static string LayerNorm(OnnxGraphBuilder g, string name, string input, int width) =>
        g.Node("LayerNormalization", [input, g.Weights($"{name}.weight", Filled(width, 1f), width), g.Weights($"{name}.bias", Filled(width, 0f), width)],
            ("axis", -1L), ("epsilon", 1e-5f));

    private static float Scale(int fanIn) => 1f / MathF.Sqrt(fanIn);

    private static float[] Filled(int count, float value) => Enumerable.Repeat(value, count).ToArray();

    private static float[] Normal(SplitMix64 rng, int count, float std)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = rng.NextNormal() * std;
        }
        return values;
    }
}
