using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Agent.Collectors.Stat;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary><see cref="StatParser"/>: any input returns a result without throwing; generated files give back their counters.</summary>
public sealed class StatParserFuzzTests
{
    private static readonly string[] Seeds = [HostFixture.Text("proc/stat")];
    private static readonly string[] Keys = ["btime", "ctxt", "processes", "intr", "procs_running", "procs_blocked"];

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("StatParser.Parse", FuzzGen.Text(Seeds), text => text.Length, text => StatParser.Parse(text).Success, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedStat_ReturnsEachCounter() =>
        FuzzCheck.Run(
            "StatParser.Parse (generated)",
            Gen.Select(Gen.ULong.Array[Keys.Length], Gen.Shuffle(Enumerable.Range(0, Keys.Length).ToArray()), Gen.ULong.Array[0, 40], Gen.OneOf(" ", "  ", "\t")),
            _ => 1,
            t =>
            {
                var (values, order, irqs, blank) = t;
                var text = new StringBuilder("cpu  1 2 3 4\ncpu0 1 2 3 4\nunknown_key 7\n");
                foreach (var i in order)
                {
                    text.Append(Keys[i]).Append(blank).Append(values[i].ToString(CultureInfo.InvariantCulture));
                    if (Keys[i] == "intr")
                    {
                        foreach (var irq in irqs)
                        {
                            text.Append(' ').Append(irq.ToString(CultureInfo.InvariantCulture));
                        }
                    }

                    text.Append('\n');
                }

                text.Append("softirq 1 2 3\n");

                var result = StatParser.Parse(text.ToString());

                Assert.True(result.Success, result.Error);
                Assert.Equal(new StatCounters(values[0], values[1], values[2], values[3], values[4], values[5]), result.Value);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
