using Tests.Support;

namespace Tests.Lora;

/// <summary>A worker on the LoRA-ready tiny model serving adapters alpha, beta and gamma, two resident at once, runtime updates and per-request metrics allowed.</summary>
public sealed class LoraWorkerFixture : IAsyncLifetime
{
    public WorkerApp Worker { get; } = new([
        ("Worker:Model", TinyLoraModel.Directory),
        ("Worker:EnableLora", "true"),
        ("Worker:MaxLoras", "2"),
        ("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "true"),
        ("Worker:EnablePerRequestMetrics", "true"),
        WorkerApp.DevMode,
        .. TinyLoraModel.Modules("alpha", "beta", "gamma"),
    ]);

    public ValueTask InitializeAsync() => new(Worker.WaitUntilHealthyAsync());

    public ValueTask DisposeAsync() => Worker.DisposeAsync();
}

/// <summary>The same with one adapter resident at once (vLLM's default --max-loras).</summary>
public sealed class OneLoraSlotFixture : IAsyncLifetime
{
    public WorkerApp Worker { get; } = new([
        ("Worker:Model", TinyLoraModel.Directory),
        ("Worker:EnableLora", "true"),
        WorkerApp.DevMode,
        .. TinyLoraModel.Modules("alpha", "beta"),
    ]);

    public ValueTask InitializeAsync() => new(Worker.WaitUntilHealthyAsync());

    public ValueTask DisposeAsync() => Worker.DisposeAsync();
}
