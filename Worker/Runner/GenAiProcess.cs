using Microsoft.ML.OnnxRuntimeGenAI;

namespace Worker.Runner;

/// <summary>
/// ONNX Runtime GenAI's process-wide handle. It must outlive every Model, Generator and Tensor, and after
/// its shutdown the library cannot start again, so it lives for the process and is released at exit.
/// </summary>
internal static class GenAiProcess
{
    private static readonly Lazy<OgaHandle> Handle = new(() =>
    {
        var handle = new OgaHandle();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => handle.Dispose();
        return handle;
    });

    public static void EnsureInitialized() => _ = Handle.Value;
}
