using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Self;

/// <summary>The fields of <c>/proc/[pid]/stat</c> the process metrics need (proc(5)).</summary>
/// <param name="UserTicks">utime, field 14, in clock ticks.</param>
/// <param name="SystemTicks">stime, field 15, in clock ticks.</param>
/// <param name="StartTicks">starttime, field 22, clock ticks after boot.</param>
/// <param name="VirtualBytes">vsize, field 23.</param>
/// <param name="ResidentPages">rss, field 24, in pages.</param>
internal readonly record struct ProcessStat(ulong UserTicks, ulong SystemTicks, ulong StartTicks, ulong VirtualBytes, long ResidentPages);

/// <summary>Parses <c>/proc/[pid]/stat</c>; the command name may hold spaces and parentheses, so fields are counted after the last <c>)</c>.</summary>
internal static class ProcessStatParser
{
    /// <summary>Parses the file content; never throws.</summary>
    public static ParseResult<ProcessStat> Parse(ReadOnlySpan<char> text)
    {
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return ParseResult<ProcessStat>.Fail("no ')' closing the command name");
        }

        // Field 3 (state) is the first after the command name.
        var fields = new FieldReader(text[(close + 1)..]);
        ulong utime = 0, stime = 0, start = 0, vsize = 0;
        long rss = 0;
        for (var field = 3; field <= 24; field++)
        {
            if (!fields.TryNext(out var value))
            {
                return ParseResult<ProcessStat>.Fail($"only {field - 1} fields, need 24");
            }

            var ok = field switch
            {
                14 => Numbers.TryParseUInt64(value, out utime),
                15 => Numbers.TryParseUInt64(value, out stime),
                22 => Numbers.TryParseUInt64(value, out start),
                23 => Numbers.TryParseUInt64(value, out vsize),
                24 => Numbers.TryParseInt64(value, out rss),
                _ => true,
            };
            if (!ok)
            {
                return ParseResult<ProcessStat>.Fail($"field {field} is not a number: '{value}'");
            }
        }

        return ParseResult<ProcessStat>.Ok(new ProcessStat(utime, stime, start, vsize, rss));
    }
}
