using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Worker.Runner;

/// <summary>
/// The batched runner on ONNX Runtime over a GroupQueryAttention decoder (<see cref="OnnxDecoder"/>). Every
/// single-token row (decode) runs in ONE forward pass over the contiguous slot range the rows occupy; a row of several
/// tokens (a prefill chunk, a decode token with speculative guesses) runs as a pass of its own, after, because
/// GroupQueryAttention takes several new tokens over a cache only at batch size 1 ("batch_size must be 1 when
/// sequence_length > 1 and past context is given"). Each row's keys and values are written in place in the KV
/// arena, which is bound as both past and present, at that row's own length: GroupQueryAttention takes each row's
/// length from its mask. With LoRA, each adapter's rows run in passes of their own with that adapter active.
/// </summary>
internal sealed class OnnxBatchRunner(OnnxDecoder decoder, int slots, int maxLength, LoraWeights? loras = null) : IModelRunner
{
    public int VocabSize => decoder.Folder.VocabSize;

    /// <summary>
    /// One slot per sequence that may run plus those kept for prefix reuse, each holding max_model_len and one more
    /// position, where a slot with no row in the batched pass takes its filler token.
    /// </summary>
    public KvArena Cache { get; } = decoder.CreateArena(slots, maxLength + 1);

    /// <summary>
    /// Runs the rows grouped by adapter, the base a group of its own: each group's single-token rows in one pass with
    /// that group's weights, then each of its multi-token rows alone. A row's logits depend only on its own slot and
    /// adapter, so the grouping changes no token.
    /// </summary>
    public float[] Execute(IReadOnlyList<RunnerRow> rows)
    {
        var offsets = new int[rows.Count];
        var total = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            offsets[i] = total;
            total += rows[i].LogitsRows * VocabSize;
        }
        var logits = new float[total];
        foreach (var group in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].Lora?.Id ?? 0))
        {
            var adapter = rows[group.First()].Lora is { } lora
                ? (loras ?? throw new InvalidOperationException("A row asks for a LoRA adapter on a runner started without LoRA.")).For(lora)
                : null;
            var narrow = group.Where(i => rows[i].Tokens.Length == 1).ToArray();
            if (narrow.Length > 0)
            {
                RunPass(rows, narrow, logits, offsets, adapter);
            }
            foreach (var i in group.Where(i => rows[i].Tokens.Length > 1))
            {
                RunPass(rows, [i], logits, offsets, adapter);
            }
        }
        return logits;
    }

    /// <summary>
    /// One forward pass over the slot range the rows span: all single-token rows of a group, or one row alone. A slot in
    /// the range without a row (free, another adapter's, prefilling later this step, kept for reuse) is fed a filler
    /// token that writes just past its length, where nothing valid lies, and which the slot's next real token overwrites.
    /// </summary>
    private void RunPass(IReadOnlyList<RunnerRow> rows, int[] members, float[] logits, int[] offsets, RunOptions? adapter)
    {
        var first = members.Min(i => rows[i].Slot);
        var last = members.Max(i => rows[i].Slot);
        var batch = last - first + 1;
        var rowAt = new int[batch];
        Array.Fill(rowAt, -1);
        var width = 1;
        foreach (var i in members)
        {
            rowAt[rows[i].Slot - first] = i;
            width = Math.Max(width, rows[i].Tokens.Length);
        }
        var maskWidth = 0;
        for (var b = 0; b < batch; b++)
        {
            maskWidth = Math.Max(maskWidth, Cache.Length(first + b) + width);
        }
        if (maskWidth > Cache.Capacity)
        {
            throw new InvalidOperationException($"A forward pass of {width} tokens would pass the KV slots' capacity ({Cache.Capacity}).");
        }

        var ids = new long[batch * width];
        var positions = new long[batch * width];
        var mask = new long[batch * maskWidth];
        for (var b = 0; b < batch; b++)
        {
            var length = Cache.Length(first + b);
            var tokens = rowAt[b] >= 0 ? rows[rowAt[b]].Tokens : [];
            for (var t = 0; t < width; t++)
            {
                ids[b * width + t] = t < tokens.Length ? tokens[t] : tokens.Length > 0 ? tokens[^1] : 0;
                positions[b * width + t] = Math.Min(length + t, decoder.Folder.ContextLength - 1);
            }
            mask.AsSpan(b * maskWidth, length + width).Fill(1);
        }

        // Models that return only the last position's logits serve decode but cannot verify guesses.
        var outputWidth = decoder.LogitsPerPosition ? width : 1;
        var inputNames = new List<string>(3 + 2 * Cache.Layers);
        var inputs = new List<OrtValue>(inputNames.Capacity);
        var outputNames = new List<string>(1 + 2 * Cache.Layers);
        var outputs = new List<OrtValue>(outputNames.Capacity);
        try
        {
            inputNames.Add("input_ids");
            inputs.Add(OrtValue.CreateTensorValueFromMemory(ids, [batch, width]));
            inputNames.Add("attention_mask");
            inputs.Add(OrtValue.CreateTensorValueFromMemory(mask, [batch, maskWidth]));
            if (decoder.HasPositionIds)
            {
                inputNames.Add("position_ids");
                inputs.Add(OrtValue.CreateTensorValueFromMemory(positions, [batch, width]));
            }
            long[] kvShape = [batch, Cache.KvHeads, Cache.Capacity, Cache.HeadSize];
            var kvBytes = batch * Cache.SlotBytes;
            for (var layer = 0; layer < Cache.Layers; layer++)
            {
                var keys = OrtValue.CreateTensorValueWithData(Cache.Memory.MemoryInfo, decoder.KvType, kvShape, Cache.KeyRows(layer, first), kvBytes);
                var vals = OrtValue.CreateTensorValueWithData(Cache.Memory.MemoryInfo, decoder.KvType, kvShape, Cache.ValueRows(layer, first), kvBytes);
                inputNames.Add(decoder.PastKeys[layer]);
                inputs.Add(keys);
                inputNames.Add(decoder.PastValues[layer]);
                inputs.Add(vals);
                outputNames.Add(decoder.PresentKeys[layer]);
                outputs.Add(keys);
                outputNames.Add(decoder.PresentValues[layer]);
                outputs.Add(vals);
            }
            var output = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, decoder.LogitsType, [batch, outputWidth, VocabSize]);
            outputNames.Add("logits");
            outputs.Add(output);
            decoder.Run(inputNames, inputs, outputNames, outputs, adapter);

            foreach (var i in members)
            {
                var row = rows[i];
                var b = row.Slot - first;
                Cache.Extend(row.Slot, row.Tokens.Length);
                if (row.LogitsRows == 0)
                {
                    continue;
                }
                var firstWanted = outputWidth == width ? row.Tokens.Length - row.LogitsRows : outputWidth - row.LogitsRows;
                if (firstWanted < 0 || (outputWidth != width && row.Tokens.Length != width))
                {
                    throw new InvalidOperationException("The model returns logits for the last position only; it cannot verify speculative guesses.");
                }
                CopyLogits(output, (b * outputWidth + firstWanted) * VocabSize, logits.AsSpan(offsets[i], row.LogitsRows * VocabSize));
            }
        }
        finally
        {
            // The KV values appear as both inputs and outputs: each is disposed once.
            foreach (var value in inputs.Concat(outputs).Distinct())
            {
                value.Dispose();
            }
        }
    }

    private static void CopyLogits(OrtValue output, int start, Span<float> destination)
    {
        switch (output.GetTensorTypeAndShape().ElementDataType)
        {
            case TensorElementType.Float:
                output.GetTensorDataAsSpan<float>().Slice(start, destination.Length).CopyTo(destination);
                break;
            case TensorElementType.Float16:
                var halves = output.GetTensorDataAsSpan<Float16>().Slice(start, destination.Length);
                for (var i = 0; i < destination.Length; i++)
                {
                    destination[i] = halves[i].ToFloat();
                }
                break;
            case var other:
                throw new InvalidOperationException($"The model's logits are {other}; the runner reads float32 and float16.");
        }
    }

    public void ForgetAdapter(int loraId) => loras?.Remove(loraId);

    public void Dispose()
    {
        Cache.Dispose();
        loras?.Dispose();
    }
}
