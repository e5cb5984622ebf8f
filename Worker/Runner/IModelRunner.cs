namespace Worker.Runner;

/// <summary>
/// Executes a step's plan on a model: every row extends one KV slot with its tokens, and the logits after the last
/// <see cref="RunnerRow.LogitsRows"/> of them come back. The runner owns the KV cache.
/// </summary>
internal interface IModelRunner : IDisposable
{
    int VocabSize { get; }

    /// <summary>The KV cache: one slot per sequence, lengths, copies, export and import.</summary>
    KvArena Cache { get; }

    /// <summary>
    /// Runs the rows (each slot at most once) and returns their logits, row after row, <see cref="RunnerRow.LogitsRows"/>
    /// × vocabulary values each. Every row's slot holds its tokens afterwards.
    /// </summary>
    float[] Execute(IReadOnlyList<RunnerRow> rows);

    /// <summary>Drops an adapter's loaded weights (it was unloaded); a row that asks for it again loads it anew.</summary>
    void ForgetAdapter(int loraId);
}

/// <summary>
/// One sequence's part of a forward pass: the tokens its slot lacks, how many logits rows it wants back, and the LoRA
/// adapter it runs under (null: the base model).
/// </summary>
internal readonly record struct RunnerRow(int Slot, int[] Tokens, int LogitsRows, LoraRequest? Lora = null);
