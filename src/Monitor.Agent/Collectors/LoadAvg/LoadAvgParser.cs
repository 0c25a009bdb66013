using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.LoadAvg;

/// <summary>The first three fields of <c>/proc/loadavg</c>.</summary>
/// <param name="Load1">1-minute load average.</param>
/// <param name="Load5">5-minute load average.</param>
/// <param name="Load15">15-minute load average.</param>
internal readonly record struct LoadAverage(double Load1, double Load5, double Load15);

/// <summary>Parses <c>/proc/loadavg</c> (<c>0.52 0.58 0.59 2/1234 5678</c>).</summary>
internal static class LoadAvgParser
{
    /// <summary>Parses the file content; never throws.</summary>
    public static ParseResult<LoadAverage> Parse(ReadOnlySpan<char> text)
    {
        var fields = new FieldReader(text.Trim());
        Span<double> values = stackalloc double[3];
        for (var i = 0; i < 3; i++)
        {
            if (!fields.TryNext(out var field))
            {
                return ParseResult<LoadAverage>.Fail($"expected 3 load averages, found {i}");
            }

            if (!Numbers.TryParseDouble(field, out values[i]))
            {
                return ParseResult<LoadAverage>.Fail($"load average {i + 1} is not a number: '{field}'");
            }
        }

        return ParseResult<LoadAverage>.Ok(new LoadAverage(values[0], values[1], values[2]));
    }
}
