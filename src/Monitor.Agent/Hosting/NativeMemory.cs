using System.Runtime.InteropServices;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Keeps glibc's native heap small. The runtime's JIT and zlib allocate and free native memory on whatever thread
/// runs; glibc gives each thread its own 64 MB arena and keeps freed pages, which made up ~10 MB of the agent's RSS
/// after a few thousand scrapes (docs/performance.md). We cap the arenas at two and hand freed pages back
/// periodically. Both calls are glibc-only; on another libc they are skipped.
/// </summary>
internal static partial class NativeMemory
{
    private const int MallocArenaMax = -8;

    /// <summary>Caps glibc's malloc arenas; call first thing in Main.</summary>
    public static void LimitArenas()
    {
        try
        {
            _ = MallOpt(MallocArenaMax, 2);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl in an Alpine image): nothing to tune.
        }
    }

    /// <summary>Returns free native heap pages to the kernel.</summary>
    public static void Trim()
    {
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc.
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
