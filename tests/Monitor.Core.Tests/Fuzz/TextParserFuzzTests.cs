using System.Globalization;
using System.Text;
using CsCheck;
using Monitor.Core.Exposition;
using Monitor.Testing;
using Monitor.Testing.Fuzz;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Fuzz;

/// <summary>
/// <see cref="TextParser"/>, which reads untrusted <c>/metrics</c> text: any bytes or text, in either format, give
/// families or an <see cref="ExpositionParseException"/>, within allocation proportional to the input. Anything the
/// writer renders reads back to the same families, types, HELP, samples, labels and values, and generated text with
/// the grammar's optional blanks, comments, timestamps and exemplars reads back to the samples it was made from.
/// </summary>
public sealed class TextParserFuzzTests
{
    private static readonly string[] TextSeeds =
    [
        .. Directory.EnumerateFiles(Fixtures.Path("host", "golden"), "*.prom").Order(StringComparer.Ordinal).Take(6).Select(File.ReadAllText),
        "# A free comment\n# HELP rpc_duration_seconds RPC \\\\ latency\\nsecond line.\n# TYPE rpc_duration_seconds summary\nrpc_duration_seconds{quantile=\"0.5\"} 4.773e-05\nrpc_duration_seconds_sum 1.7560473e+07\nrpc_duration_seconds_count 2693\n\n# TYPE http_requests_total counter\nhttp_requests_total { method = \"post\" , code=\"200\", } 1027 1395066363000\n# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 7\nlat_count 7\nsomething_weird{problem=\"division by zero\"} +Inf -3982045\nnan_value NaN\n",
    ];

    private static readonly string[] OpenMetricsSeeds =
    [
        "# TYPE acme_http_router_request_seconds summary\n# UNIT acme_http_router_request_seconds seconds\n# HELP acme_http_router_request_seconds Latency \\\"quoted\\\".\nacme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\nacme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\nacme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\nfoo_created 1520430000.123\n# TYPE mystery unknown\nmystery 1e-3\n# TYPE build info\nbuild_info{version=\"1.2\"} 1\n# TYPE h gaugehistogram\nh_bucket{le=\"+Inf\"} 3\nh_gcount 3\nh_gsum 1\n# TYPE s stateset\ns{s=\"a\"} 1\n# EOF\n",
        Render(SampleRegistry(), ExpositionFormat.OpenMetrics100),
    ];

    /// <summary>Names from a small set, so suffix families (<c>_total</c>, <c>_created</c>, <c>_sum</c>…) and collisions come up.</summary>
    private static readonly Gen<string> FamilyName = Gen.Frequency(
        (3, Gen.Select(Gen.OneOf("a", "b", "node_x", "x:y", "_u"), Gen.OneOf("", "", "_sum", "_count", "_bucket", "_created", "_info", "_gsum", "_total"), (n, s) => n + s)),
        (1, Gen.Select(Gen.Char["abcXYZ_:"], Gen.String[Gen.Char["abcXYZ_:019"], 0, 12], (c, s) => c + s)));

    private static readonly Gen<string> LabelName = Gen.Select(Gen.Char["abcXYZ_"], Gen.String[Gen.Char["abcXYZ_019"], 0, 8], (c, s) => c + s).Where(n => !n.StartsWith("__", StringComparison.Ordinal));

    /// <summary>
    /// Any valid UTF-16 text except U+FFFF: the writer encodes UTF-8 (a lone surrogate cannot round-trip) and joins
    /// label values with U+FFFF internally.
    /// </summary>
    private static readonly Gen<string> AnyText = Gen.Frequency(
        (4, Gen.String[Gen.Char[' ', '~'], 0, 16]),
        (2, Gen.String[Gen.OneOf('\\', '"', '\n', '\t', '\r', ' ', '#', '{', '}', '=', ',', 'a'), 0, 8]),
        (1, Gen.Const(string.Concat(TrickyLabelValues))),
        (1, Gen.String[FuzzGen.AnyChar.Where(c => !char.IsSurrogate(c) && c != '\uffff'), 0, 12]));

    private static readonly Gen<double> Value = Gen.Frequency(
        (4, Gen.Double),
        (1, Gen.OneOf(0.0, -0.0, 1.0, -1.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, double.MaxValue, double.MinValue, 1e-5, 123456.0, 1234567.0)),
        (2, Gen.Long.Select(l => (double)l)));

    private static readonly Gen<FamilySpec> Family = Gen.Select(
        FamilyName, Gen.Int[0, 2], AnyText, LabelName.Array[0, 3], Gen.Select(AnyText.Array[3], Value).Array[0, 4],
        (name, type, help, labels, series) => new FamilySpec(name, (MetricType)type, help, labels, series));

    [Theory]
    [InlineData(ExpositionFormat.Text004)]
    [InlineData(ExpositionFormat.OpenMetrics100)]
    public void ParseUtf8_AnyBytes_ReturnsFamiliesOrParseException(ExpositionFormat format)
    {
        var seeds = (format == ExpositionFormat.Text004 ? TextSeeds : OpenMetricsSeeds).Select(Encoding.UTF8.GetBytes).ToArray();
        FuzzCheck.Run(
            $"TextParser.Parse(UTF-8, {format})",
            Gen.Frequency((6, FuzzGen.Text(format == ExpositionFormat.Text004 ? TextSeeds : OpenMetricsSeeds).Select(Encoding.UTF8.GetBytes)), (2, FuzzGen.MutatedBytes(seeds)), (1, FuzzGen.Bytes(256))),
            bytes => bytes.Length,
            bytes => TextParser.Parse(bytes, format) is not null,
            ciIterations: 800,
            new FuzzLimits(BytesPerUnit: 256),
            documented: typeof(ExpositionParseException));
    }

    [Theory]
    [InlineData(ExpositionFormat.Text004)]
    [InlineData(ExpositionFormat.OpenMetrics100)]
    public void Parse_AnyText_ReturnsFamiliesOrParseException(ExpositionFormat format) =>
        FuzzCheck.Run(
            $"TextParser.Parse(string, {format})",
            FuzzGen.Text(format == ExpositionFormat.Text004 ? TextSeeds : OpenMetricsSeeds),
            text => text.Length,
            text =>
            {
                var families = TextParser.Parse(text, format, maxLineLength: 64 * 1024);
                if (families.Any(f => f.Name.Length == 0 || f.Samples.Any(s => s.Name.Length == 0)))
                {
                    throw new InvalidOperationException("a family or sample without a name");
                }

                return true;
            },
            ciIterations: 800,
            new FuzzLimits(BytesPerUnit: 256),
            documented: typeof(ExpositionParseException));

    [Theory]
    [InlineData(ExpositionFormat.Text004)]
    [InlineData(ExpositionFormat.OpenMetrics100)]
    public void Parse_WriterOutput_ReadsBackWhatWasWritten(ExpositionFormat format) =>
        FuzzCheck.Run(
            $"TextParser round trip ({format})",
            Family.Array[0, 8],
            specs => specs.Length,
            specs =>
            {
                var group = new MetricGroup("fuzz");
                var written = new List<(MetricFamily Family, List<(string[] Labels, double Value)> Series)>();
                foreach (var spec in specs)
                {
                    if (Declare(group, spec) is not { } family)
                    {
                        continue;
                    }

                    var series = new Dictionary<string, (string[] Labels, double Value)>(StringComparer.Ordinal);
                    foreach (var (values, value) in spec.Series)
                    {
                        var labels = values[..family.LabelNames.Count];
                        family.Get(labels).Set(value);
                        series[string.Concat(labels.Select(l => l.Length.ToString(CultureInfo.InvariantCulture) + ":" + l))] = (labels, value);
                    }

                    written.Add((family, [.. series.Values]));
                }

                var registry = new MetricRegistry();
                try
                {
                    registry.Register(group);
                }
                catch (ArgumentException)
                {
                    // Two families claim one name in some format; the registry refuses, which is not the parser's concern.
                    return false;
                }

                var text = Render(registry, format);

                var parsed = TextParser.Parse(Encoding.UTF8.GetBytes(text), format);

                var expected = written.Where(w => w.Series.Count > 0).OrderBy(w => w.Family.Name, StringComparer.Ordinal).ToList();
                Assert.Equal(expected.Select(w => format == ExpositionFormat.OpenMetrics100 ? w.Family.OpenMetricsName : w.Family.Name), parsed.Select(f => f.Name));
                for (var i = 0; i < expected.Count; i++)
                {
                    var (family, series) = expected[i];
                    var actual = parsed[i];
                    Assert.Equal(family.Type switch { MetricType.Counter => ParsedMetricType.Counter, MetricType.Gauge => ParsedMetricType.Gauge, _ => ParsedMetricType.Unknown }, actual.Type);

                    // Text 0.0.4 cannot carry blanks at the start of HELP: the grammar skips them (as expfmt does).
                    Assert.Equal(format == ExpositionFormat.Text004 ? family.Help.TrimStart(' ', '\t') : family.Help, actual.Help);
                    Assert.Equal(
                        series.Select(s => Describe(family.Name, family.LabelNames, s.Labels, s.Value)).Order(StringComparer.Ordinal),
                        actual.Samples.Select(s => Describe(s.Name, s.Labels.Select(l => l.Key).ToList(), [.. s.Labels.Select(l => l.Value)], s.Value)).Order(StringComparer.Ordinal));
                }

                return parsed.Count > 0;
            },
            ciIterations: 400,
            FuzzLimits.TimeOnly);

    [Fact]
    public void Parse_GeneratedText004_ReadsEverySample() =>
        FuzzCheck.Run(
            "TextParser.Parse (generated text 0.0.4)",
            Gen.Select(FamilyName, Gen.Select(LabelName, AnyText).Array[0, 3], Value, Gen.Select(Gen.Bool, Gen.Long), Gen.Int[0, 255]).Array[1, 10],
            lines => lines.Length,
            lines =>
            {
                var text = new StringBuilder();
                var expected = new List<string>();
                foreach (var (name, labels, value, (hasTimestamp, timestamp), style) in lines)
                {
                    var distinct = labels.DistinctBy(l => l.Item1, StringComparer.Ordinal).ToArray();
                    string Blank(int bit) => (style & bit) != 0 ? " \t " : "";
                    if ((style & 64) != 0)
                    {
                        text.Append("# a free comment ").Append(AnyTextLine(name)).Append("\n\n");
                    }

                    text.Append(Blank(1)).Append(name).Append(Blank(2));
                    if (distinct.Length > 0 || (style & 4) != 0)
                    {
                        text.Append('{').AppendJoin(',', distinct.Select(l => $"{Blank(8)}{l.Item1}{Blank(8)}={Blank(8)}\"{Escape(l.Item2)}\"{Blank(8)}")).Append((style & 16) != 0 && distinct.Length > 0 ? "," : "").Append('}');
                    }

                    text.Append(' ').Append(Blank(32)).Append(FormatValue(value, style));
                    if (hasTimestamp)
                    {
                        text.Append(' ').Append(timestamp.ToString(CultureInfo.InvariantCulture));
                    }

                    text.Append(Blank(128)).Append('\n');
                    expected.Add(Describe(name, [.. distinct.Select(l => l.Item1)], [.. distinct.Select(l => l.Item2)], value) + (hasTimestamp ? "@" + timestamp.ToString(CultureInfo.InvariantCulture) : ""));
                }

                var parsed = TextParser.Parse(text.ToString(), ExpositionFormat.Text004);

                Assert.Equal(
                    expected.Order(StringComparer.Ordinal),
                    parsed.SelectMany(f => f.Samples).Select(s => Describe(s.Name, [.. s.Labels.Select(l => l.Key)], [.. s.Labels.Select(l => l.Value)], s.Value) + (s.TimestampMilliseconds is { } ts ? "@" + ts.ToString(CultureInfo.InvariantCulture) : "")).Order(StringComparer.Ordinal));
                return true;
            },
            ciIterations: 400,
            FuzzLimits.TimeOnly);

    /// <summary>A registry with one family of each type and escaped labels: a seed for the OpenMetrics mutations.</summary>
    private static MetricRegistry SampleRegistry()
    {
        var group = new MetricGroup("seed");
        group.Counter("requests_total", "Requests \"served\" \\ total.", "code", "method").Get("200", "GET").Set(1027);
        group.Gauge("temperature_celsius", "Temperature.\nSecond line.", "sensor").Get("a\"b\\c\nd").Set(-3.5);
        group.Untyped("mystery", "Unknown.").Get().Set(double.NaN);
        return RegistryOf(group);
    }

    private static MetricFamily? Declare(MetricGroup group, FamilySpec spec)
    {
        var name = spec.Type == MetricType.Counter && !spec.Name.EndsWith("_total", StringComparison.Ordinal) ? spec.Name + "_total" : spec.Name;
        var labels = spec.Labels.Distinct(StringComparer.Ordinal).ToArray();
        try
        {
            return spec.Type switch
            {
                MetricType.Counter => group.Counter(name, spec.Help, labels),
                MetricType.Gauge => group.Gauge(name, spec.Help, labels),
                _ => group.Untyped(name, spec.Help, labels),
            };
        }
        catch (ArgumentException)
        {
            // A name that collides with one declared before (foo_total and foo): the model refuses it; skip.
            return null;
        }
    }

    /// <summary>One sample as comparable text: name, labels sorted by name, the value's bits (every NaN alike, -0 as 0).</summary>
    private static string Describe(string name, IReadOnlyList<string> labelNames, string[] labelValues, double value)
    {
        var labels = labelNames.Select((n, i) => n + "=" + FuzzText.Escape(labelValues[i])).Order(StringComparer.Ordinal);
        var bits = double.IsNaN(value) ? "NaN" : BitConverter.DoubleToInt64Bits(value == 0 ? 0 : value).ToString("x16", CultureInfo.InvariantCulture);
        return $"{name}{{{string.Join(',', labels)}}}={bits}";
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string AnyTextLine(string text) => text.Replace("\n", " ", StringComparison.Ordinal);

    /// <summary>The value in one of the spellings Go's ParseFloat reads: Go's shortest form, .NET's round-trip form, or Inf/NaN spelled otherwise.</summary>
    private static string FormatValue(double value, int style) => value switch
    {
        double.PositiveInfinity => (style & 1) != 0 ? "+Inf" : "Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => (style & 1) != 0 ? "NaN" : "nan",
        _ => (style & 2) != 0 ? PrometheusFloat.ToString(value) : value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>A family to declare: its name, type, HELP, label names, and label values (the first labels.Length used) with a value.</summary>
    private sealed record FamilySpec(string Name, MetricType Type, string Help, string[] Labels, (string[] Values, double Value)[] Series)
    {
        public override string ToString() => string.Create(
            CultureInfo.InvariantCulture,
            $"{Type} {Name} help={FuzzText.Describe(Help)} labels={FuzzText.Describe(Labels)} series={string.Join("; ", Series.Select(s => FuzzText.Describe(s.Values) + "=" + s.Value.ToString("R", CultureInfo.InvariantCulture)))}");
    }
}
