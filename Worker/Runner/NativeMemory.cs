using System.Runtime;
using System.Runtime.InteropServices;

namespace Worker.Runner;

/// <summary>
/// Hands memory freed by a disposed model back to the operating system. glibc keeps freed heap pages in its arenas
/// and the GC keeps freed large-object segments, so without this a worker that unloads a model (sleep) keeps most
/// of its RSS.
/// </summary>
internal static partial class NativeMemory
{
    public static void ReturnFreedMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        if (OperatingSystem.IsLinux())
        {
            try
            {
                MallocTrim(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc (musl, say): it returns freed memory on its own terms.
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
