using System.Globalization;
using CsCheck;
using Monitor.Agent.Collectors.DiskStats;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="DiskStatsParser"/>: any line returns a result without throwing; generated lines give back every field.</summary>
public sealed class DiskStatsParserFuzzTests
{
    private static readonly string[] Seeds = HostFixture.Lines("proc/diskstats");

    [Fact]
    public void ParseLine_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("DiskStatsParser.ParseLine", FuzzGen.Text(Seeds, 256), text => text.Length, text =>
        {
            var result = DiskStatsParser.ParseLine(text);
            if (result.Success)
            {
                var (offset, length) = result.Value.Name.GetOffsetAndLength(text.Length);
                if (length == 0 || result.Value.CounterCount is < DiskStatsParser.MinCounters or > DiskStatsParser.MaxCounters || offset + length > text.Length)
                {
                    throw new InvalidOperationException($"accepted a line with name range {result.Value.Name} and {result.Value.CounterCount} counters");
                }
            }

            return result.Success;
        }, ciIterations: 2_000);

    [Fact]
    public void ParseLine_GeneratedLine_ReturnsEveryField() =>
        FuzzCheck.Run(
            "DiskStatsParser.ParseLine (generated)",
            Gen.Select(Gen.UInt, Gen.UInt, Gen.String[Gen.Char['!', '~'], 1, 32], Gen.OneOf(11, 15, 17, 20), Gen.ULong.Array[20]),
            _ => 1,
            t =>
            {
                var (major, minor, name, count, counters) = t;
                var line = string.Create(CultureInfo.InvariantCulture, $" {major,4} {minor,7} {name} {string.Join(' ', counters.Take(count))}");

                var result = DiskStatsParser.ParseLine(line);

                Assert.True(result.Success, result.Error);
                Assert.Equal(major, result.Value.Major);
                Assert.Equal(minor, result.Value.Minor);
                Assert.Equal(name, line[result.Value.Name]);
                var kept = Math.Min(count, DiskStatsParser.MaxCounters);
                Assert.Equal(kept, result.Value.CounterCount);
                var parsed = result.Value.Counters;
                for (var i = 0; i < DiskStatsParser.MaxCounters; i++)
                {
                    Assert.Equal(i < kept ? counters[i] : 0, parsed[i]);
                }

                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
