using System.Runtime.CompilerServices;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.DiskStats;

/// <summary>Up to 17 counters of one <c>/proc/diskstats</c> line, in kernel order; unused trailing slots are 0.</summary>
[InlineArray(DiskStatsParser.MaxCounters)]
internal struct DiskCounters
{
    private ulong _element0;
}

/// <summary>One <c>/proc/diskstats</c> line.</summary>
/// <param name="Major">Device major number.</param>
/// <param name="Minor">Device minor number.</param>
/// <param name="Name">Where the device name lies in the parsed line.</param>
/// <param name="CounterCount">How many counters the line has: 11 (kernel &lt; 4.18), 15 (4.18+, discards) or 17 (5.5+, flushes).</param>
/// <param name="Counters">The counters; only the first <paramref name="CounterCount"/> are meaningful.</param>
internal readonly record struct DiskStatsLine(uint Major, uint Minor, Range Name, int CounterCount, DiskCounters Counters);

/// <summary>
/// Parses <c>/proc/diskstats</c> lines (Documentation/admin-guide/iostats.rst): major, minor, name, then 11, 15 or 17
/// counters depending on the kernel. Counters past the 17th are ignored, as procfs does, so a future kernel that
/// appends columns still parses.
/// </summary>
internal static class DiskStatsParser
{
    /// <summary>Counters every kernel since 2.6 prints.</summary>
    public const int MinCounters = 11;

    /// <summary>Counters read at most (kernel 5.5+).</summary>
    public const int MaxCounters = 17;

    /// <summary>Parses one line; never throws.</summary>
    public static ParseResult<DiskStatsLine> ParseLine(ReadOnlySpan<char> line)
    {
        var fields = new FieldReader(line);
        if (!fields.TryNext(out var majorText) || !Numbers.TryParseUInt64(majorText, out var major) || major > uint.MaxValue)
        {
            return ParseResult<DiskStatsLine>.Fail($"major number is missing or not a number: '{majorText}'");
        }

        if (!fields.TryNext(out var minorText) || !Numbers.TryParseUInt64(minorText, out var minor) || minor > uint.MaxValue)
        {
            return ParseResult<DiskStatsLine>.Fail($"minor number is missing or not a number: '{minorText}'");
        }

        if (!fields.TryNext(out var name))
        {
            return ParseResult<DiskStatsLine>.Fail("device name is missing");
        }

        // The reader's rest starts right after the name, which locates it in the line.
        var nameEnd = line.Length - fields.Rest.Length;
        var nameRange = new Range(nameEnd - name.Length, nameEnd);

        var counters = default(DiskCounters);
        var count = 0;
        while (count < MaxCounters && fields.TryNext(out var field))
        {
            if (!Numbers.TryParseUInt64(field, out counters[count]))
            {
                return ParseResult<DiskStatsLine>.Fail($"{name}: counter {count + 1} is not an unsigned 64-bit integer: '{field}'");
            }

            count++;
        }

        if (count < MinCounters)
        {
            return ParseResult<DiskStatsLine>.Fail($"{name}: expected at least {MinCounters} counters, found {count}");
        }

        return ParseResult<DiskStatsLine>.Ok(new DiskStatsLine((uint)major, (uint)minor, nameRange, count, counters));
    }
}
