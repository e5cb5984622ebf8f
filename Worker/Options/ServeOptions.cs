namespace Worker.Options;

/// <summary>
/// How the worker serves. Bound from configuration section "Worker": appsettings.json, environment
/// variables (Worker__MaxNumSeqs=8) and vLLM-style command-line flags (--max-num-seqs 8) all land here.
/// </summary>
public sealed class ServeOptions
{
    public const string Section = "Worker";

    /// <summary>--model: a model folder. Empty: the embedded default tiny model, built on first start.</summary>
    public string? Model { get; set; }

    /// <summary>--served-model-name: names clients use; the first one labels metrics. Default: the --model value.</summary>
    public List<string> ServedModelName { get; set; } = [];

    /// <summary>--device: cpu, or cuda in a build made with -p:ExecutionProvider=cuda.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>--max-num-seqs: the most sequences that run at once.</summary>
    public int MaxNumSeqs { get; set; } = 16;

    /// <summary>--max-model-len: context length (prompt + output). Default: the model's context_length.</summary>
    public int? MaxModelLen { get; set; }

    /// <summary>--download-dir: where built models are cached. Default: $XDG_CACHE_HOME/vellum or ~/.cache/vellum.</summary>
    public string? DownloadDir { get; set; }
}
