using System.Runtime.InteropServices;

namespace Monitor.Agent.Self;

/// <summary>
/// The process's <c>RLIMIT_NOFILE</c>. At start the agent raises the soft limit to the hard one, as the Go runtime does
/// for node_exporter: systemd and most shells hand services a soft limit of 1024 (kept low only for programs that
/// still use <c>select</c>, which .NET does not) under a hard limit of 512 K, and every connection, spool segment and
/// /proc read costs a descriptor.
/// </summary>
/// <remarks>
/// CoreCLR's PAL already raises the soft limit to the hard one while the runtime starts (measured: a soft limit of 300
/// under a hard limit of 4096 is 4096 by the time <c>Main</c> runs), so this call finds nothing to do under today's
/// runtime. It stays as the agent's own guarantee, and it reads the limits the start-up log reports.
/// </remarks>
internal static partial class FileDescriptorLimit
{
    private const int RlimitNofile = 7;

    /// <summary>The limits before and after <see cref="RaiseSoftToHard"/>.</summary>
    /// <param name="Before">Soft limit found at start.</param>
    /// <param name="Soft">Soft limit now in force.</param>
    /// <param name="Hard">Hard limit.</param>
    /// <param name="Error">Why the raise failed (errno text), or null.</param>
    internal readonly record struct Result(ulong Before, ulong Soft, ulong Hard, string? Error);

    /// <summary>Raises the soft limit to the hard limit (capped at <c>/proc/sys/fs/nr_open</c>); never throws.</summary>
    public static Result RaiseSoftToHard()
    {
        try
        {
            if (GetRLimit(RlimitNofile, out var limit) != 0)
            {
                return new Result(0, 0, 0, $"getrlimit: {Marshal.GetLastPInvokeErrorMessage()}");
            }

            var before = limit.Current;
            var target = limit.Maximum;
            if (target == ulong.MaxValue)
            {
                // RLIM_INFINITY is not accepted for RLIMIT_NOFILE: the kernel's ceiling is fs.nr_open.
                target = ReadNrOpen() ?? before;
            }

            if (target <= before)
            {
                return new Result(before, before, limit.Maximum, null);
            }

            var raised = new RLimit { Current = target, Maximum = limit.Maximum };
            if (SetRLimit(RlimitNofile, raised) != 0)
            {
                return new Result(before, before, limit.Maximum, $"setrlimit: {Marshal.GetLastPInvokeErrorMessage()}");
            }

            return new Result(before, target, limit.Maximum, null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return new Result(0, 0, 0, ex.Message);
        }
    }

    /// <summary>The soft limit now in force; 0 if unknown.</summary>
    public static ulong Soft()
    {
        try
        {
            return GetRLimit(RlimitNofile, out var limit) == 0 ? limit.Current : 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    private static ulong? ReadNrOpen()
    {
        try
        {
            return ulong.TryParse(File.ReadAllText("/proc/sys/fs/nr_open").Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}
