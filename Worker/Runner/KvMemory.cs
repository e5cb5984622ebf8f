using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Worker.Runner;

/// <summary>Where the KV arena lives: host memory (CPU) or device memory (CUDA), with the copies the arena needs.</summary>
internal interface IKvMemory : IDisposable
{
    /// <summary>What ONNX Runtime is told the bound buffers are.</summary>
    OrtMemoryInfo MemoryInfo { get; }

    /// <summary>
    /// True when pages cost memory only once written (host memory mapped lazily): a sequence then holds what it has
    /// written, not its slot's capacity, and the block pool may count tokens rather than slots.
    /// </summary>
    bool CommitsOnWrite { get; }

    /// <summary>True when the process can read and write the memory at its address (host memory): a KV transfer then moves it straight between the socket and the arena.</summary>
    bool IsHostAddressable { get; }

    nint Allocate(long bytes);

    void Copy(nint source, nint destination, long bytes);

    void CopyToHost(nint source, Span<byte> destination);

    void CopyFromHost(ReadOnlySpan<byte> source, nint destination);

    /// <summary>Gives the memory behind a range back (it reads as zeros afterwards) where the memory allows.</summary>
    void Discard(nint start, long bytes);

    /// <summary>Bytes of the range that hold memory now: the pages written and not discarded, or all of it when committed.</summary>
    long ResidentBytes(nint start, long bytes);
}

/// <summary>
/// Host memory reserved with mmap and committed page by page as the runtime writes KV rows: the arena can span every
/// slot at full context length while the process holds only what sequences have written. Discarding a slot hands
/// its pages back (madvise DONTNEED).
/// </summary>
internal sealed partial class HostKvMemory : IKvMemory
{
    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20, MapNoReserve = 0x4000, MadvDontNeed = 4;
    private readonly List<(nint Start, long Bytes)> _mappings = [];

    public OrtMemoryInfo MemoryInfo => OrtMemoryInfo.DefaultInstance;

    public bool CommitsOnWrite => true;

    public bool IsHostAddressable => true;

    public static int PageSize { get; } = Environment.SystemPageSize;

    public nint Allocate(long bytes)
    {
        var start = Mmap(0, (nuint)bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (start == -1)
        {
            throw new InvalidOperationException($"Could not reserve {bytes:N0} bytes for the KV cache (mmap errno {Marshal.GetLastPInvokeError()}).");
        }
        _mappings.Add((start, bytes));
        return start;
    }

    public unsafe void Copy(nint source, nint destination, long bytes) => Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);

    public unsafe void CopyToHost(nint source, Span<byte> destination) => new Span<byte>((void*)source, destination.Length).CopyTo(destination);

    public unsafe void CopyFromHost(ReadOnlySpan<byte> source, nint destination) => source.CopyTo(new Span<byte>((void*)destination, source.Length));

    public void Discard(nint start, long bytes)
    {
        // Only whole pages inside the range go; a partial page at either end is left alone.
        var first = (start + PageSize - 1) / PageSize * PageSize;
        var end = (start + (nint)bytes) / PageSize * PageSize;
        if (end > first)
        {
            Madvise(first, (nuint)(end - first), MadvDontNeed);
        }
    }

    public unsafe long ResidentBytes(nint start, long bytes)
    {
        var pages = (int)((bytes + PageSize - 1) / PageSize);
        var resident = new byte[pages];
        fixed (byte* vector = resident)
        {
            if (Mincore(start, (nuint)bytes, vector) != 0)
            {
                throw new InvalidOperationException($"mincore failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        return resident.Count(page => (page & 1) != 0) * (long)PageSize;
    }

    public void Dispose()
    {
        foreach (var (start, bytes) in _mappings)
        {
            Munmap(start, (nuint)bytes);
        }
        _mappings.Clear();
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static unsafe partial int Mincore(nint address, nuint length, byte* vector);
}

/// <summary>
/// Device memory on CUDA, allocated once through the CUDA runtime and committed in full: every slot costs its whole
/// capacity, so the block pool counts slots there. Only a build with -p:ExecutionProvider=cuda runs this.
/// </summary>
internal sealed partial class CudaKvMemory(int device) : IKvMemory
{
    private const int HostToDevice = 1, DeviceToHost = 2, DeviceToDevice = 3;
    private readonly List<nint> _allocations = [];

    public OrtMemoryInfo MemoryInfo { get; } = new("Cuda", OrtAllocatorType.DeviceAllocator, device, OrtMemType.Default);

    public bool CommitsOnWrite => false;

    public bool IsHostAddressable => false;

    public nint Allocate(long bytes)
    {
        Check(cudaSetDevice(device), "cudaSetDevice");
        Check(cudaMalloc(out var pointer, (nuint)bytes), $"cudaMalloc({bytes:N0} bytes)");
        _allocations.Add(pointer);
        return pointer;
    }

    public void Copy(nint source, nint destination, long bytes) => Check(cudaMemcpy(destination, source, (nuint)bytes, DeviceToDevice), "cudaMemcpy");

    public unsafe void CopyToHost(nint source, Span<byte> destination)
    {
        fixed (byte* target = destination)
        {
            Check(cudaMemcpy((nint)target, source, (nuint)destination.Length, DeviceToHost), "cudaMemcpy");
        }
    }

    public unsafe void CopyFromHost(ReadOnlySpan<byte> source, nint destination)
    {
        fixed (byte* from = source)
        {
            Check(cudaMemcpy(destination, (nint)from, (nuint)source.Length, HostToDevice), "cudaMemcpy");
        }
    }

    public void Discard(nint start, long bytes)
    {
        // Device memory stays committed: the slot is simply reused.
    }

    public long ResidentBytes(nint start, long bytes) => bytes;

    public void Dispose()
    {
        foreach (var pointer in _allocations)
        {
            cudaFree(pointer);
        }
        _allocations.Clear();
        MemoryInfo.Dispose();
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"CUDA failed in {call} (cudaError {result}).");
        }
    }

    [LibraryImport("libcudart.so.12")] private static partial int cudaSetDevice(int device);
    [LibraryImport("libcudart.so.12")] private static partial int cudaMalloc(out nint pointer, nuint bytes);
    [LibraryImport("libcudart.so.12")] private static partial int cudaFree(nint pointer);
    [LibraryImport("libcudart.so.12")] private static partial int cudaMemcpy(nint destination, nint source, nuint bytes, int kind);
}
