namespace Worker.Runner;

/// <summary>
/// vLLM's LoRARequest: the adapter a request runs under, by the name clients give as <c>model</c>, an id the engine
/// schedules by (never reused for another adapter, so caches keyed by it cannot mix two), and its folder.
/// </summary>
public sealed record LoraRequest(string Name, int Id, string Path)
{
    /// <summary>ONNX Runtime's adapter file in the folder, beside PEFT's adapter_config.json.</summary>
    public string WeightsFile => System.IO.Path.Combine(Path, ModelBuilder.LoraAdapterBuilder.WeightsFile);
}
