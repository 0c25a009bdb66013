using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Pressure;

/// <summary>The cumulative stall totals of one <c>/proc/pressure/&lt;resource&gt;</c> file, in microseconds.</summary>
/// <param name="SomeTotalMicroseconds">The <c>total=</c> of the <c>some</c> line: time at least one task was stalled.</param>
/// <param name="FullTotalMicroseconds">The <c>total=</c> of the <c>full</c> line (all non-idle tasks stalled); null when the file has no <c>full</c> line.</param>
internal readonly record struct PressureTotals(ulong SomeTotalMicroseconds, ulong? FullTotalMicroseconds);

/// <summary>
/// Parses a PSI file (<c>some avg10=0.00 avg60=0.00 avg300=0.00 total=12345</c>, then an optional <c>full</c> line).
/// Only <c>total=</c> is kept: node_exporter exports the totals, not the averages. Unknown line prefixes are ignored,
/// as procfs does. See https://docs.kernel.org/accounting/psi.html.
/// </summary>
internal static class PressureParser
{
    /// <summary>Parses the file content; never throws.</summary>
    public static ParseResult<PressureTotals> Parse(ReadOnlySpan<char> text)
    {
        ulong? some = null;
        ulong? full = null;
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var kind))
            {
                continue;
            }

            var isSome = kind.SequenceEqual("some");
            if (!isSome && !kind.SequenceEqual("full"))
            {
                continue;
            }

            var total = ParseLine(ref fields, isSome ? "some" : "full", out var error);
            if (error is not null)
            {
                return ParseResult<PressureTotals>.Fail(error);
            }

            if (isSome)
            {
                some = total;
            }
            else
            {
                full = total;
            }
        }

        return some is { } s
            ? ParseResult<PressureTotals>.Ok(new PressureTotals(s, full))
            : ParseResult<PressureTotals>.Fail("no 'some' line");
    }

    private static ulong ParseLine(ref FieldReader fields, string kind, out string? error)
    {
        // avg10, avg60 and avg300 must be present and numeric, so a truncated line is reported rather than read short.
        ReadOnlySpan<string> averages = ["avg10=", "avg60=", "avg300="];
        foreach (var key in averages)
        {
            if (!fields.TryNext(out var field) || !field.StartsWith(key, StringComparison.Ordinal)
                || !Numbers.TryParseDouble(field[key.Length..], out _))
            {
                error = $"'{kind}' line: expected {key}<number>";
                return 0;
            }
        }

        if (!fields.TryNext(out var totalField) || !totalField.StartsWith("total=", StringComparison.Ordinal))
        {
            error = $"'{kind}' line: expected total=<microseconds>";
            return 0;
        }

        if (!Numbers.TryParseUInt64(totalField["total=".Length..], out var total))
        {
            error = $"'{kind}' line: total is not an unsigned 64-bit integer: '{totalField["total=".Length..]}'";
            return 0;
        }

        error = null;
        return total;
    }
}
