using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Kernel;

namespace Monitor.Agent.Collectors.Cpu;

/// <summary>
/// One <c>cpuN</c> line of <c>/proc/stat</c>, in USER_HZ ticks. Columns a kernel does not print are 0: 2.6.11 added
/// steal, 2.6.24 guest and 2.6.33 guest_nice.
/// </summary>
/// <param name="Cpu">The CPU number (N in <c>cpuN</c>).</param>
/// <param name="User">Time in user mode (includes guest time).</param>
/// <param name="Nice">Time in user mode at low priority (includes guest_nice time).</param>
/// <param name="System">Time in kernel mode.</param>
/// <param name="Idle">Time idle.</param>
/// <param name="Iowait">Time waiting for I/O.</param>
/// <param name="Irq">Time servicing interrupts.</param>
/// <param name="SoftIrq">Time servicing softirqs.</param>
/// <param name="Steal">Time stolen by the hypervisor.</param>
/// <param name="Guest">Time running a guest's virtual CPU.</param>
/// <param name="GuestNice">Time running a niced guest's virtual CPU.</param>
internal readonly record struct CpuTicks(
    int Cpu, ulong User, ulong Nice, ulong System, ulong Idle, ulong Iowait, ulong Irq, ulong SoftIrq, ulong Steal, ulong Guest, ulong GuestNice);

/// <summary>Parses the per-CPU lines of <c>/proc/stat</c> and the CPU list format of sysfs (<c>0-3,8</c>).</summary>
internal static class CpuParser
{
    /// <summary>Columns every kernel since 2.4 prints: user, nice, system, idle.</summary>
    public const int MinimumColumns = 4;

    /// <summary>Columns read; later ones, if a future kernel adds any, are ignored.</summary>
    public const int MaximumColumns = 10;

    /// <summary>Largest CPU number accepted, so a corrupt list cannot make us build a huge one.</summary>
    public const int MaxCpu = CpuList.MaxCpu;

    /// <summary>
    /// Clears <paramref name="cpus"/> and fills it with the <c>cpuN</c> lines of <paramref name="text"/> in file
    /// order; the aggregate <c>cpu</c> line and every other line are skipped. Never throws. The value is the CPU count.
    /// </summary>
    public static ParseResult<int> Parse(ReadOnlySpan<char> text, List<CpuTicks> cpus)
    {
        cpus.Clear();
        Span<ulong> columns = stackalloc ulong[MaximumColumns];
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var name) || name.Length <= 3 || !name.StartsWith("cpu", StringComparison.Ordinal))
            {
                continue;
            }

            if (!int.TryParse(name[3..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cpu)
                || cpu > MaxCpu)
            {
                return ParseResult<int>.Fail($"'{name}' is not cpu<number>");
            }

            columns.Clear();
            var count = 0;
            while (count < MaximumColumns && fields.TryNext(out var field))
            {
                if (!Numbers.TryParseUInt64(field, out columns[count]))
                {
                    return ParseResult<int>.Fail($"{name}: column {count + 1} is not an unsigned 64-bit integer: '{field}'");
                }

                count++;
            }

            if (count < MinimumColumns)
            {
                return ParseResult<int>.Fail($"{name}: expected at least {MinimumColumns} columns, found {count}");
            }

            cpus.Add(new CpuTicks(cpu, columns[0], columns[1], columns[2], columns[3], columns[4], columns[5], columns[6], columns[7], columns[8], columns[9]));
        }

        return cpus.Count == 0 ? ParseResult<int>.Fail("no cpuN lines") : ParseResult<int>.Ok(cpus.Count);
    }

    /// <summary>
    /// Parses a sysfs CPU list such as <c>0-3,8,10-11</c> (cputopology ABI) into <paramref name="cpus"/>; an empty
    /// list is valid and means none. Never throws. The value is the CPU count. The format is
    /// <see cref="CpuList"/>'s, shared with the jobs' cgroup cpusets.
    /// </summary>
    public static ParseResult<int> ParseCpuList(ReadOnlySpan<char> text, List<int> cpus) =>
        CpuList.Parse(text, cpus) is { } error ? ParseResult<int>.Fail(error) : ParseResult<int>.Ok(cpus.Count);
}
