using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Agent.Collectors.MemInfo;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// <see cref="MemInfoParser"/>: any input returns a result without throwing, and the name ranges it returns lie inside
/// the input; generated files give back every field, value and unit in order.
/// </summary>
public sealed class MemInfoParserFuzzTests
{
    private static readonly string[] Seeds = [HostFixture.Text("proc/meminfo")];

    private static readonly Gen<string> FieldName = Gen.String[Gen.Char["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_()"], 1, 24];

    [Fact]
    public void Parse_AnyText_ReturnsResultWithinBounds() =>
        FuzzCheck.Run("MemInfoParser.Parse", FuzzGen.Text(Seeds), text => text.Length, text =>
        {
            var fields = new List<MemInfoField>();
            var result = MemInfoParser.Parse(text, fields);
            foreach (var field in fields)
            {
                var (offset, length) = field.Name.GetOffsetAndLength(text.Length);
                if (length < 1 || text[offset + length] != ':')
                {
                    throw new InvalidOperationException($"name range {field.Name} does not end before a ':'");
                }
            }

            return result.Success;
        }, ciIterations: 2_000);

    [Fact]
    public void Parse_GeneratedMemInfo_ReturnsEveryField() =>
        FuzzCheck.Run(
            "MemInfoParser.Parse (generated)",
            Gen.Select(FieldName, Gen.ULong, Gen.Bool, Gen.Int[1, 12]).Array[1, 60],
            lines => lines.Length,
            lines =>
            {
                var text = new StringBuilder();
                foreach (var (name, value, kb, pad) in lines)
                {
                    text.Append(name).Append(':').Append(' ', pad).Append(value.ToString(CultureInfo.InvariantCulture)).Append(kb ? " kB\n" : "\n");
                }

                var fields = new List<MemInfoField>();
                var input = text.ToString();

                var result = MemInfoParser.Parse(input, fields);

                Assert.True(result.Success, result.Error);
                Assert.Equal(lines.Select(l => (l.Item1, l.Item2, l.Item3)), fields.Select(f => (input[f.Name], f.Value, f.InKibibytes)));
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    [Fact]
    public void MetricName_GeneratedField_FollowsNodeExporterRule() =>
        FuzzCheck.Run(
            "MemInfoParser.MetricName (generated)",
            Gen.Select(FieldName, Gen.Bool),
            t => t.Item1.Length,
            t =>
            {
                var (field, kb) = t;

                var name = MemInfoParser.MetricName(field, kb);

                // node_exporter: regexp \((.*)\) replaced by _$1, which is greedy: from the first '(' to the last ')'.
                var expected = System.Text.RegularExpressions.Regex.Replace(field, @"\((.*)\)", "_$1");
                Assert.Equal(kb ? $"node_memory_{expected}_bytes" : $"node_memory_{expected}", name);
                return true;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);
}
