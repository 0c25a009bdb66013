using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Agent.Collectors.Cpu;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <see cref="CpuParser"/>: the per-CPU lines of /proc/stat and sysfs CPU lists. Any input returns a result without
/// throwing, within bounded allocation; generated files and lists parse back to the values they were made from.
/// </summary>
public sealed class CpuParserFuzzTests
{
    private static readonly string[] StatSeeds = [HostFixture.Text("proc/stat")];

    private static readonly string[] ListSeeds =
        [HostFixture.Text("sys/devices/system/cpu/online"), HostFixture.Text("sys/devices/system/cpu/isolated"), "0-3,8,10-11\n", "0\n", "\n", "0-63,128-191\n"];

    /// <summary>Kernel column counts from 2.4 (4) to beyond what the parser reads (10).</summary>
    private static readonly Gen<CpuLine> CpuLineGen =
        Gen.Select(Gen.Int[0, CpuParser.MaxCpu], Gen.Int[CpuParser.MinimumColumns, 13], Gen.ULong.Array[13], Gen.OneOf(" ", "  ", "\t", " \t "), (cpu, columns, values, blank) => new CpuLine(cpu, columns, values, blank));

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("CpuParser.Parse", FuzzGen.Text(StatSeeds), text => text.Length, text =>
        {
            var cpus = new List<CpuTicks>();
            var result = CpuParser.Parse(text, cpus);
            if (result.Success && (result.Value != cpus.Count || cpus.Exists(c => c.Cpu is < 0 or > CpuParser.MaxCpu)))
            {
                throw new InvalidOperationException($"accepted {result.Value} CPUs but listed {cpus.Count} or one out of range");
            }

            return result.Success;
        }, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedStat_ReturnsEveryCpuLineWithItsColumns() =>
        FuzzCheck.Run("CpuParser.Parse (generated)", CpuLineGen.Array[1, 16], lines => lines.Length, lines =>
        {
            var text = new StringBuilder("cpu  1 2 3 4 5 6 7 8 9 10\n");
            foreach (var line in lines)
            {
                text.Append(CultureInfo.InvariantCulture, $"cpu{line.Cpu}").Append(line.Blank)
                    .AppendJoin(line.Blank, line.Values.Take(line.Columns)).Append('\n');
            }

            text.Append("intr 1 2 3\nctxt 9\nsoftirq 1 2\n");
            var cpus = new List<CpuTicks>();

            var result = CpuParser.Parse(text.ToString(), cpus);

            Assert.True(result.Success, result.Error);
            Assert.Equal(lines.Length, result.Value);
            for (var i = 0; i < lines.Length; i++)
            {
                var v = lines[i].Values.Take(Math.Min(lines[i].Columns, CpuParser.MaximumColumns)).Concat(Enumerable.Repeat(0UL, 10)).ToArray();
                Assert.Equal(new CpuTicks(lines[i].Cpu, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]), cpus[i]);
            }

            return true;
        }, ciIterations: 500, FuzzLimits.TimeOnly);

    [Fact]
    public void ParseCpuList_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run(
            "CpuParser.ParseCpuList",
            Gen.Frequency((3, FuzzGen.Text(ListSeeds, 64)), (1, RangeList(CpuParser.MaxCpu + 10))),
            text => text.Length,
            text =>
            {
                var cpus = new List<int>();
                var result = CpuParser.ParseCpuList(text, cpus);
                if (result.Success && (result.Value != cpus.Count || cpus.Count > CpuParser.MaxCpu + 1))
                {
                    throw new InvalidOperationException($"accepted {result.Value} CPUs, listed {cpus.Count}");
                }

                return result.Success;
            },
            ciIterations: 1_000,
            // One list may name every CPU up to MaxCpu once: 65,537 ints, about 1 MiB with the list's growth, plus the slack.
            new FuzzLimits(FixedBytes: 3 << 20));

    [Fact]
    public void ParseCpuList_ManyFullRanges_FailsWithoutListingThemAll()
    {
        // Each item alone is within MaxCpu; together they would list 100 × 65,537 CPUs.
        var text = string.Join(',', Enumerable.Repeat($"0-{CpuParser.MaxCpu}", 100));
        var cpus = new List<int>();

        var result = CpuParser.ParseCpuList(text, cpus);
        var allocated = FuzzCheck.LeastAllocated(() => CpuParser.ParseCpuList(text, cpus));

        // Before the bound on the whole list: 6.5 million ints, over 26 MB.
        Assert.False(result.Success);
        Assert.InRange(allocated, 0, 4 << 20);
    }

    [Fact]
    public void ParseCpuList_GeneratedSet_ReturnsTheSet() =>
        FuzzCheck.Run("CpuParser.ParseCpuList (generated)", Gen.Int[0, 300].Array[0, 80], set => set.Length, set =>
        {
            var expected = set.Distinct().Order().ToList();
            var text = new StringBuilder();
            for (var i = 0; i < expected.Count;)
            {
                var end = i;
                while (end + 1 < expected.Count && expected[end + 1] == expected[end] + 1)
                {
                    end++;
                }

                text.Append(text.Length > 0 ? "," : "").Append(expected[i].ToString(CultureInfo.InvariantCulture));
                if (end > i)
                {
                    text.Append('-').Append(expected[end].ToString(CultureInfo.InvariantCulture));
                }

                i = end + 1;
            }

            var cpus = new List<int>();
            var result = CpuParser.ParseCpuList(text.Append('\n').ToString(), cpus);

            Assert.True(result.Success, result.Error);
            Assert.Equal(expected, cpus);
            return true;
        }, ciIterations: 500, FuzzLimits.TimeOnly);

    /// <summary>Lists of ranges with ends anywhere up to <paramref name="max"/>, so large and repeated ranges come up.</summary>
    private static Gen<string> RangeList(int max) =>
        Gen.Select(Gen.Int[0, max], Gen.Int[0, max]).Array[1, 12].Select(ranges =>
            string.Join(',', ranges.Select(r => string.Create(CultureInfo.InvariantCulture, $"{Math.Min(r.Item1, r.Item2)}-{Math.Max(r.Item1, r.Item2)}"))));

    /// <summary>One generated cpuN line: its number, how many columns it prints, the column values and the blank between fields.</summary>
    private readonly record struct CpuLine(int Cpu, int Columns, ulong[] Values, string Blank);
}
