using System.Runtime.InteropServices;

namespace Worker.Runner;

/// <summary>The CUDA device's memory, from the driver API, for --gpu-memory-utilization.</summary>
internal static partial class CudaMemory
{
    public static (long Free, long Total) Query(int device)
    {
        Check(cuInit(0), "cuInit");
        Check(cuDeviceGet(out var handle, device), "cuDeviceGet");
        Check(cuDevicePrimaryCtxRetain(out var context, handle), "cuDevicePrimaryCtxRetain");
        try
        {
            Check(cuCtxPushCurrent_v2(context), "cuCtxPushCurrent");
            Check(cuMemGetInfo_v2(out var free, out var total), "cuMemGetInfo");
            cuCtxPopCurrent_v2(out _);
            return ((long)free, (long)total);
        }
        finally
        {
            cuDevicePrimaryCtxRelease_v2(handle);
        }
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"The CUDA driver failed in {call} (CUresult {result}); pass --kv-cache-memory-bytes instead.");
        }
    }

    [LibraryImport("libcuda.so.1")] private static partial int cuInit(uint flags);
    [LibraryImport("libcuda.so.1")] private static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport("libcuda.so.1")] private static partial int cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport("libcuda.so.1")] private static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport("libcuda.so.1")] private static partial int cuCtxPushCurrent_v2(nint context);
    [LibraryImport("libcuda.so.1")] private static partial int cuCtxPopCurrent_v2(out nint context);
    [LibraryImport("libcuda.so.1")] private static partial int cuMemGetInfo_v2(out nuint free, out nuint total);
}
