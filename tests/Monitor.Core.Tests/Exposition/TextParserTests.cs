using System.Text;
using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class TextParserTests
{
    [Theory]
    [InlineData(ExpositionFormat.Text004)]
    [InlineData(ExpositionFormat.OpenMetrics100)]
    public void Parse_WriterOutput_ReturnsSameFamiliesLabelsAndValues(ExpositionFormat format)
    {
        var group = new MetricGroup("g");
        var expected = new Dictionary<(string Name, string Labels), double>();
        double[] values = [0, 1, -1, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, double.PositiveInfinity, double.NegativeInfinity, 123456789, -0.000123];
        var tricky = TrickyLabelValues;
        var k = 0;
        for (var f = 0; f < 20; f++)
        {
            var type = (MetricType)(f % 3);
            var name = type == MetricType.Counter ? $"fam_{f}_total" : $"fam_{f}";
            var family = type switch
            {
                MetricType.Counter => group.Counter(name, $"Help {f} with \\ and \n and \"quotes\".", "dev", "mode"),
                MetricType.Gauge => group.Gauge(name, $"Help {f}", "dev", "mode"),
                _ => group.Untyped(name, $"Help {f}", "dev", "mode"),
            };
            for (var s = 0; s < tricky.Count; s++)
            {
                var value = values[k++ % values.Length];
                family.Get(tricky[s], tricky[(s + f) % tricky.Count] + f).Set(value);
                expected[(name, $"dev={tricky[s]}|mode={tricky[(s + f) % tricky.Count] + f}")] = value;
            }
        }

        group.Gauge("nan_gauge", "NaN.").Get().Set(double.NaN);
        var text = Render(RegistryOf(group), format);

        var families = TextParser.Parse(Encoding.UTF8.GetBytes(text), format);

        Assert.Equal(21, families.Count);
        var actual = new Dictionary<(string, string), double>();
        foreach (var family in families)
        {
            var declared = group.Families.Single(f => (format == ExpositionFormat.OpenMetrics100 ? f.OpenMetricsName : f.Name) == family.Name);
            Assert.Equal(declared.Help, family.Help);
            Assert.Equal(declared.Type switch { MetricType.Counter => ParsedMetricType.Counter, MetricType.Gauge => ParsedMetricType.Gauge, _ => ParsedMetricType.Unknown }, family.Type);
            foreach (var sample in family.Samples)
            {
                Assert.Equal(declared.Name, sample.Name);
                if (sample.Name == "nan_gauge")
                {
                    Assert.True(double.IsNaN(sample.Value));
                    continue;
                }

                Assert.Equal(["dev", "mode"], sample.Labels.Select(l => l.Key));
                actual[(sample.Name, $"dev={sample.Label("dev")}|mode={sample.Label("mode")}")] = sample.Value;
            }
        }

        Assert.Equal(expected.Count, actual.Count);
        foreach (var (key, value) in expected)
        {
            Assert.Equal(BitConverter.DoubleToInt64Bits(value == 0 ? 0 : value), BitConverter.DoubleToInt64Bits(actual[key]));
        }
    }

    [Fact]
    public void Parse_TextSamples_ReadsTypesSuffixesTimestampsAndBlanks()
    {
        const string text = """
            # A free comment
            # HELP rpc_duration_seconds RPC \\ latency\nsecond line.
            # TYPE rpc_duration_seconds summary
            rpc_duration_seconds{quantile="0.5"} 4.773e-05
            rpc_duration_seconds_sum 1.7560473e+07
            rpc_duration_seconds_count 2693

            # TYPE http_requests_total counter
            http_requests_total { method = "post" , code="200", } 1027 1395066363000
            http_requests_total{method="post",code="400"}    3   1395066363000
            # TYPE lat histogram
            lat_bucket{le="+Inf"} 7
            lat_count 7
            metric_without_timestamp_and_labels 12.47
            something_weird{problem="division by zero"} +Inf -3982045
            nan_value NaN
            """;

        var families = TextParser.Parse(text, ExpositionFormat.Text004);

        Assert.Equal(["rpc_duration_seconds", "http_requests_total", "lat", "metric_without_timestamp_and_labels", "something_weird", "nan_value"], families.Select(f => f.Name));
        var rpc = families[0];
        Assert.Equal("RPC \\ latency\nsecond line.", rpc.Help);
        Assert.Equal(ParsedMetricType.Summary, rpc.Type);
        Assert.Equal([4.773e-05, 1.7560473e+07, 2693], rpc.Samples.Select(s => s.Value));
        Assert.Equal("0.5", rpc.Samples[0].Label("quantile"));
        var http = families[1];
        Assert.Equal(ParsedMetricType.Counter, http.Type);
        Assert.Null(http.Help);
        Assert.Equal([new("method", "post"), new KeyValuePair<string, string>("code", "200")], http.Samples[0].Labels);
        Assert.Equal(1395066363000, http.Samples[0].TimestampMilliseconds);
        Assert.Equal(3, http.Samples[1].Value);
        Assert.Equal(["lat_bucket", "lat_count"], families[2].Samples.Select(s => s.Name));
        Assert.Equal(ParsedMetricType.Unknown, families[3].Type);
        Assert.Null(families[3].Samples[0].TimestampMilliseconds);
        Assert.Equal(double.PositiveInfinity, families[4].Samples[0].Value);
        Assert.Equal(-3982045, families[4].Samples[0].TimestampMilliseconds);
        Assert.True(double.IsNaN(families[5].Samples[0].Value));
    }

    [Fact]
    public void Parse_OpenMetricsSamples_GroupsSuffixesAndReadsUnitTimestampsExemplars()
    {
        const string text = "# TYPE acme_http_router_request_seconds summary\n" +
            "# UNIT acme_http_router_request_seconds seconds\n" +
            "# HELP acme_http_router_request_seconds Latency \\\"quoted\\\".\n" +
            "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n" +
            "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n" +
            "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n" +
            "# TYPE foo counter\n" +
            "foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n" +
            "foo_created 1520430000.123\n" +
            "# TYPE mystery unknown\n" +
            "mystery 1e-3\n" +
            "# TYPE build info\n" +
            "build_info{version=\"1.2\"} 1\n" +
            "# EOF\n";

        var families = TextParser.Parse(text, ExpositionFormat.OpenMetrics100);

        Assert.Equal(["acme_http_router_request_seconds", "foo", "mystery", "build"], families.Select(f => f.Name));
        Assert.Equal("seconds", families[0].Unit);
        Assert.Equal("Latency \"quoted\".", families[0].Help);
        Assert.Equal(3, families[0].Samples.Count);
        var foo = families[1];
        Assert.Equal(ParsedMetricType.Counter, foo.Type);
        Assert.Equal(["foo_total", "foo_created"], foo.Samples.Select(s => s.Name));
        Assert.Equal(17.0, foo.Samples[0].Value);
        Assert.Equal(1520879607789, foo.Samples[0].TimestampMilliseconds);
        Assert.Equal(ParsedMetricType.Unknown, families[2].Type);
        Assert.Equal(0.001, families[2].Samples[0].Value);
        Assert.Equal(ParsedMetricType.Info, families[3].Type);
    }

    [Theory]
    [InlineData("metric_a 1\nmetric_b\n", 2, "missing value")]
    [InlineData("metric_a{l=\"v\\q\"} 1\n", 1, "invalid escape sequence")]
    [InlineData("ok 1\nmetric_a{l=\"v\" 1\n", 2, "expected ',' or '}'")]
    [InlineData("metric_a{l=\"v\",\n", 1, "unterminated label set")]
    [InlineData("metric_a{l=\"v\n", 1, "unterminated label value")]
    [InlineData("# HELP a one\n# HELP a two\na 1\n", 2, "second HELP line")]
    [InlineData("# TYPE a gauge\n# TYPE a counter\n", 2, "second TYPE line")]
    [InlineData("a 1\n# TYPE a gauge\n", 2, "after its samples")]
    [InlineData("# TYPE a sometype\n", 1, "unknown metric type")]
    [InlineData("a{l=\"1\",l=\"2\"} 1\n", 1, "duplicate label")]
    [InlineData("a 1 2 3\n", 1, "unexpected text after the sample")]
    [InlineData("a 1 12.5\n", 1, "invalid timestamp")]
    [InlineData("a one\n", 1, "invalid value")]
    [InlineData("9a 1\n", 1, "where a metric name should start")]
    [InlineData("a{9=\"x\"} 1\n", 1, "where a label name should start")]
    [InlineData("# TYPE h histogram\nh 1\n", 2, "not valid in histogram family")]
    public void Parse_MalformedText_ThrowsWithLine(string text, int line, string reason)
    {
        var ex = Assert.Throws<ExpositionParseException>(() => TextParser.Parse(text, ExpositionFormat.Text004));
        Assert.Equal(line, ex.LineNumber);
        Assert.Contains(reason, ex.Reason, StringComparison.Ordinal);
        Assert.StartsWith($"line {line}: ", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a 1\n", 2, "missing # EOF")]
    [InlineData("a 1\n\n# EOF\n", 2, "blank line")]
    [InlineData("# EOF\na 1\n", 2, "content after # EOF")]
    [InlineData("# a comment\n# EOF\n", 1, "unknown comment")]
    [InlineData("# TYPE a untyped\n# EOF\n", 1, "unknown metric type")]
    [InlineData("# TYPE c counter\nc 1\n# EOF\n", 2, "not valid in counter family")]
    [InlineData("a 1\nb 1\na 2\n# EOF\n", 3, "must be contiguous")]
    [InlineData("a  1\n# EOF\n", 1, "missing value")]
    [InlineData("# HELP a x\\q\n# EOF\n", 1, "invalid escape sequence")]
    [InlineData("a 1\n# EOF\n\n", 3, "content after # EOF")]
    public void Parse_MalformedOpenMetrics_ThrowsWithLine(string text, int line, string reason)
    {
        var ex = Assert.Throws<ExpositionParseException>(() => TextParser.Parse(text, ExpositionFormat.OpenMetrics100));
        Assert.Equal(line, ex.LineNumber);
        Assert.Contains(reason, ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_VeryLongLine_ThrowsWithLine()
    {
        var text = "ok 1\nlong{l=\"" + new string('x', 5000) + "\"} 1\n";
        var ex = Assert.Throws<ExpositionParseException>(() => TextParser.Parse(text, ExpositionFormat.Text004, maxLineLength: 4096));
        Assert.Equal(2, ex.LineNumber);
        Assert.Contains("longer than 4096", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidUtf8_ThrowsWithLine()
    {
        byte[] bytes = [.. "ok 1\nok2 2\nbad{l=\""u8, 0xC3, 0x28, .. "\"} 1\n"u8];
        var ex = Assert.Throws<ExpositionParseException>(() => TextParser.Parse(bytes, ExpositionFormat.Text004));
        Assert.Equal(3, ex.LineNumber);
        Assert.Contains("UTF-8", ex.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RandomGarbage_OnlyEverThrowsParseException()
    {
        var random = new Random(7);
        var valid = Encoding.UTF8.GetBytes("# HELP a h\\n\n# TYPE a_total counter\na_total{x=\"y\\\"\",z=\"\"} 1.5e+3 1000\n# EOF\n");
        for (var i = 0; i < 3000; i++)
        {
            // Half pure noise, half a valid exposition with a few bytes changed: both must end in a result or a parse error.
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 200)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])valid.Clone();
                const string Noise = "{}\"\\=, #\n\0a1e+";
                for (var m = 0; m < 3; m++)
                {
                    input[random.Next(input.Length)] = (byte)Noise[random.Next(Noise.Length)];
                }
            }

            foreach (var format in (ExpositionFormat[])[ExpositionFormat.Text004, ExpositionFormat.OpenMetrics100])
            {
                try
                {
                    _ = TextParser.Parse(input, format);
                }
                catch (ExpositionParseException ex)
                {
                    Assert.True(ex.LineNumber >= 1, ex.Message);
                }
            }
        }
    }

    [Fact]
    public void TryParse_Malformed_ReturnsFalseAndError()
    {
        Assert.False(TextParser.TryParse("a{", ExpositionFormat.Text004, out var families, out var error));
        Assert.Empty(families);
        Assert.Equal(1, error!.LineNumber);
        Assert.True(TextParser.TryParse("a 1", ExpositionFormat.Text004, out families, out error));
        Assert.Null(error);
        Assert.Equal(1, families[0].Samples[0].Value);
    }
}
