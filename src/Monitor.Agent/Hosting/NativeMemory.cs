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

    /// <summary>
    /// Native AOT only: drops the read-only pages of the executable and of the C library from this process's page
    /// table; returns the bytes of the mappings dropped (0 under the JIT, or when nothing could be read). Called once
    /// start-up is over, then 10 s later and once a minute by <see cref="BackgroundSampler"/>.
    /// </summary>
    /// <remarks>
    /// Start-up reads nearly all of the 15 MB executable (the runtime rehydrates its type data from it; dependency
    /// injection, option parsing and the collectors' construction run once), and those pages stayed resident: 15 MB
    /// of the agent's RSS. After start-up only the scrape paths' code and data are touched again. MADV_DONTNEED on a
    /// private file mapping removes only our page-table entries; the pages stay in the page cache, and the next access
    /// maps them again with a minor fault, so what is used comes back and the rest stays out (docs/performance.md,
    /// "Native AOT": about 10 MB of the executable stays resident through a run). Dropping again once a minute lets go
    /// of what only the first scrapes and rare paths touched: an agent scraped every 15 s held 1.3 MB fewer file pages a minute later.
    /// Mappings holding anonymous
    /// (copy-on-write) pages are left alone: the relocated read-only data is such a mapping, and dropping it would
    /// lose the relocations. Under the JIT the executable is a bundle whose pages the runtime maps and patches in its
    /// own ways, so nothing is done there.
    /// </remarks>
    public static long DropExecutablePages()
    {
        if (System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported || Environment.ProcessPath is not { } executable)
        {
            return 0;
        }

        try
        {
            long dropped = 0;
            (nint Start, nint End, bool Candidate) mapping = default;
            var anonymous = false;
            foreach (var line in File.ReadLines("/proc/self/smaps"))
            {
                if (TryParseMappingHeader(line, executable, out var start, out var end, out var candidate))
                {
                    dropped += Drop(mapping, anonymous);
                    mapping = (start, end, candidate);
                    anonymous = false;
                }
                else if (line.StartsWith("Anonymous:", StringComparison.Ordinal) && !line.AsSpan("Anonymous:".Length).Trim().StartsWith("0 kB", StringComparison.Ordinal))
                {
                    anonymous = true;
                }
            }

            return dropped + Drop(mapping, anonymous);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    private static long Drop((nint Start, nint End, bool Candidate) mapping, bool anonymous)
    {
        const int MadvDontNeed = 4;
        if (!mapping.Candidate || anonymous || MAdvise(mapping.Start, (nuint)(mapping.End - mapping.Start), MadvDontNeed) != 0)
        {
            return 0;
        }

        return mapping.End - mapping.Start;
    }

    /// <summary>
    /// A /proc/self/smaps header such as <c>55d0c1a00000-55d0c2200000 r-xp 00019000 08:01 1234 /usr/lib/monitor/monitor-agent</c>;
    /// <paramref name="candidate"/> when it maps <paramref name="executable"/> or the C library read-only and private.
    /// </summary>
    internal static bool TryParseMappingHeader(string line, string executable, out nint start, out nint end, out bool candidate)
    {
        start = end = 0;
        candidate = false;
        var span = line.AsSpan();
        var space = span.IndexOf(' ');
        var dash = space < 0 ? -1 : span[..space].IndexOf('-');
        if (dash <= 0
            || !long.TryParse(span[..dash], System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var from)
            || !long.TryParse(span[(dash + 1)..space], System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var to))
        {
            return false;
        }

        start = (nint)from;
        end = (nint)to;
        var rest = span[(space + 1)..];
        candidate = (rest.StartsWith("r--p ", StringComparison.Ordinal) || rest.StartsWith("r-xp ", StringComparison.Ordinal))
            && (rest.EndsWith(" " + executable, StringComparison.Ordinal) || IsCLibrary(rest));
        return true;
    }

    /// <summary>
    /// True for a mapping of the C library's own objects (libc, libm, the dynamic loader): the loader maps and
    /// relocates them before Main, so their read-only mappings never gain pages later. Libraries opened at run time
    /// (NVML, OpenSSL) are left alone: one could be mid-relocation while the mappings are read.
    /// </summary>
    private static bool IsCLibrary(ReadOnlySpan<char> rest)
    {
        var slash = rest.LastIndexOf('/');
        if (slash < 0 || rest.IndexOf(" /", StringComparison.Ordinal) < 0)
        {
            return false;
        }

        var name = rest[(slash + 1)..];
        return name is "libc.so.6" or "libm.so.6" or "ld-linux-x86-64.so.2" or "ld-linux-aarch64.so.1";
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
