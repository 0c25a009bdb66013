using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Stat;

/// <summary>The system-wide counters of <c>/proc/stat</c> that node_exporter's stat collector exports.</summary>
/// <param name="BootTime">Boot time, seconds since the epoch (<c>btime</c>).</param>
/// <param name="ContextSwitches">Context switches since boot (<c>ctxt</c>).</param>
/// <param name="Forks">Processes and threads created since boot (<c>processes</c>).</param>
/// <param name="Interrupts">Interrupts serviced since boot (first field of <c>intr</c>).</param>
/// <param name="ProcsRunning">Tasks currently runnable (<c>procs_running</c>).</param>
/// <param name="ProcsBlocked">Tasks currently blocked on I/O (<c>procs_blocked</c>).</param>
internal readonly record struct StatCounters(
    ulong BootTime, ulong ContextSwitches, ulong Forks, ulong Interrupts, ulong ProcsRunning, ulong ProcsBlocked);

/// <summary>
/// Parses the non-CPU lines of <c>/proc/stat</c> (see proc(5)). cpu and softirq lines are skipped here; the cpu
/// collector parses those. Every field node_exporter exports must be present: a file without one is reported as
/// malformed rather than exported as 0.
/// </summary>
internal static class StatParser
{
    private const int BootTime = 0;
    private const int ContextSwitches = 1;
    private const int Forks = 2;
    private const int Interrupts = 3;
    private const int ProcsRunning = 4;
    private const int ProcsBlocked = 5;
    private static readonly string[] Keys = ["btime", "ctxt", "processes", "intr", "procs_running", "procs_blocked"];

    /// <summary>Parses the file content; never throws.</summary>
    public static ParseResult<StatCounters> Parse(ReadOnlySpan<char> text)
    {
        Span<ulong> values = stackalloc ulong[Keys.Length];
        var seen = 0;
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var key))
            {
                continue;
            }

            var index = IndexOf(key);
            if (index < 0)
            {
                continue;
            }

            // intr is followed by one count per IRQ; only the first (the total) is exported.
            if (!fields.TryNext(out var value))
            {
                return ParseResult<StatCounters>.Fail($"'{Keys[index]}' has no value");
            }

            if (!Numbers.TryParseUInt64(value, out values[index]))
            {
                return ParseResult<StatCounters>.Fail($"'{Keys[index]}' is not an unsigned 64-bit integer: '{value}'");
            }

            seen |= 1 << index;
        }

        for (var i = 0; i < Keys.Length; i++)
        {
            if ((seen & (1 << i)) == 0)
            {
                return ParseResult<StatCounters>.Fail($"no '{Keys[i]}' line");
            }
        }

        return ParseResult<StatCounters>.Ok(new StatCounters(
            values[BootTime], values[ContextSwitches], values[Forks], values[Interrupts], values[ProcsRunning], values[ProcsBlocked]));
    }

    private static int IndexOf(ReadOnlySpan<char> key)
    {
        for (var i = 0; i < Keys.Length; i++)
        {
            if (key.SequenceEqual(Keys[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
