using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace Monitor.Core.Exposition;

/// <summary>
/// Reads Prometheus text format 0.0.4 and OpenMetrics 1.0 text into families and samples. The aggregator reads
/// agents' <c>/metrics</c> with it, so it is built for untrusted input: one pass over the text, no recursion, a
/// bounded line length, and every problem reported as an <see cref="ExpositionParseException"/> with its line.
/// </summary>
/// <remarks>
/// <para>Grammar followed: the text format as client_golang's <c>expfmt.TextParser</c> reads it (blank lines and
/// other comments ignored, blanks between tokens, trailing comma in label sets, integer millisecond timestamps) and
/// the OpenMetrics 1.0 ABNF (<c># EOF</c> required and last, no blank lines or free comments, <c>UNIT</c>, float
/// second timestamps, exemplars, which are checked and dropped).</para>
/// <para>Samples are grouped into families by name: in OpenMetrics a <c>counter</c> family <c>foo</c> takes
/// <c>foo_total</c> and <c>foo_created</c>, a histogram <c>_bucket</c>, <c>_count</c>, <c>_sum</c> and
/// <c>_created</c>, and so on; in text 0.0.4 only summaries and histograms take suffixes. A sample no family claims
/// starts an untyped family of its own name.</para>
/// </remarks>
public static class TextParser
{
    /// <summary>The longest line accepted by default (1 MiB of UTF-16 chars).</summary>
    public const int DefaultMaxLineLength = 1 << 20;

    private static readonly string[] SuffixesByLength = ["_created", "_gcount", "_bucket", "_total", "_count", "_gsum", "_info", "_sum", string.Empty];

    /// <summary>Parses UTF-8 exposition text.</summary>
    /// <exception cref="ExpositionParseException">The input is not valid UTF-8 or not valid in <paramref name="format"/>.</exception>
    public static IReadOnlyList<ParsedFamily> Parse(ReadOnlySpan<byte> utf8, ExpositionFormat format, int maxLineLength = DefaultMaxLineLength)
    {
        var chars = ArrayPool<char>.Shared.Rent(Math.Max(utf8.Length, 1));
        try
        {
            var status = Utf8.ToUtf16(utf8, chars, out var read, out var written, replaceInvalidSequences: false);
            if (status != OperationStatus.Done)
            {
                var line = 1 + utf8[..read].Count((byte)'\n');
                throw new ExpositionParseException(line, "invalid UTF-8");
            }

            return Parse(new string(chars, 0, written), format, maxLineLength);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>Parses exposition text.</summary>
    /// <param name="text">The whole exposition.</param>
    /// <param name="format">Which grammar to apply.</param>
    /// <param name="maxLineLength">Lines longer than this are rejected, which bounds the work one line can cause.</param>
    /// <returns>The families in order of first appearance.</returns>
    /// <exception cref="ExpositionParseException">The input is not valid in <paramref name="format"/>.</exception>
    public static IReadOnlyList<ParsedFamily> Parse(string text, ExpositionFormat format, int maxLineLength = DefaultMaxLineLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineLength);
        return new Reader(text, format == ExpositionFormat.OpenMetrics100, maxLineLength).Run();
    }

    /// <summary>Parses exposition text without throwing on malformed input.</summary>
    /// <returns>True and the families, or false and the error.</returns>
    public static bool TryParse(string text, ExpositionFormat format, out IReadOnlyList<ParsedFamily> families, out ExpositionParseException? error)
    {
        try
        {
            families = Parse(text, format);
            error = null;
            return true;
        }
        catch (ExpositionParseException ex)
        {
            families = [];
            error = ex;
            return false;
        }
    }

    /// <summary>Whether a sample named <c>family + suffix</c> belongs to a family of <paramref name="type"/>.</summary>
    private static bool TakesSuffix(ParsedMetricType type, string suffix, bool om) => (type, suffix) switch
    {
        (ParsedMetricType.Counter, "_total" or "_created") => om,
        (ParsedMetricType.Counter, "") => !om,
        (ParsedMetricType.Gauge or ParsedMetricType.Unknown or ParsedMetricType.StateSet, "") => true,
        (ParsedMetricType.Summary, "" or "_sum" or "_count") => true,
        (ParsedMetricType.Summary, "_created") => om,
        (ParsedMetricType.Histogram, "_bucket" or "_sum" or "_count") => true,
        (ParsedMetricType.Histogram, "_created") => om,
        (ParsedMetricType.GaugeHistogram, "_bucket" or "_gsum" or "_gcount") => true,
        (ParsedMetricType.Info, "_info") => true,
        _ => false,
    };

    /// <summary>One parse: the text, a cursor within the current line, and the families so far.</summary>
    private sealed class Reader
    {
        private readonly string _text;
        private readonly bool _om;
        private readonly int _maxLineLength;
        private readonly List<ParsedFamily> _families = [];
        private readonly Dictionary<string, ParsedFamily> _byName = new(StringComparer.Ordinal);
        private readonly Dictionary<string, ParsedFamily>.AlternateLookup<ReadOnlySpan<char>> _byNameLookup;

        // Metric and label names repeat on almost every line; keep one string per distinct name.
        private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _nameLookup;
        private readonly StringBuilder _scratch = new();
        private readonly List<KeyValuePair<string, string>> _labels = [];

        private ParsedFamily? _current;
        private int _lineNumber;
        private int _pos;
        private int _end;

        public Reader(string text, bool om, int maxLineLength)
        {
            _text = text;
            _om = om;
            _maxLineLength = maxLineLength;
            _nameLookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
            _byNameLookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        public List<ParsedFamily> Run()
        {
            var start = 0;
            var sawEof = false;
            while (start < _text.Length)
            {
                _lineNumber++;
                var newline = _text.IndexOf('\n', start);
                _end = newline < 0 ? _text.Length : newline;
                _pos = start;
                if (_end - start > _maxLineLength)
                {
                    throw Error($"line longer than {_maxLineLength.ToString(CultureInfo.InvariantCulture)} characters");
                }

                if (sawEof)
                {
                    throw Error("content after # EOF");
                }

                if (_om && newline < 0)
                {
                    // OpenMetrics ends every line, "# EOF" included, with LF... except that the ABNF lets the
                    // final "# EOF" go without one.
                    if (!_text.AsSpan(start, _end - start).SequenceEqual("# EOF"))
                    {
                        throw Error("line does not end with a newline");
                    }
                }

                sawEof = ReadLine();
                start = _end + 1;
            }

            if (_om && !sawEof)
            {
                _lineNumber++;
                throw Error("missing # EOF");
            }

            return _families;
        }

        /// <summary>Reads the line [_pos, _end); true when it is the OpenMetrics <c># EOF</c>.</summary>
        private bool ReadLine()
        {
            if (!_om)
            {
                SkipBlanks();
            }

            if (_pos == _end)
            {
                return _om ? throw Error("blank line") : false;
            }

            if (_text[_pos] == '#')
            {
                return ReadComment();
            }

            ReadSample();
            return false;
        }

        private bool ReadComment()
        {
            _pos++;
            if (_om)
            {
                var rest = _text.AsSpan(_pos, _end - _pos);
                if (rest.SequenceEqual(" EOF"))
                {
                    return true;
                }

                Expect(' ', "expected a space after #");
            }
            else
            {
                SkipBlanks();
            }

            var keywordStart = _pos;
            while (_pos < _end && _text[_pos] is not (' ' or '\t'))
            {
                _pos++;
            }

            var keyword = _text.AsSpan(keywordStart, _pos - keywordStart);
            var kind = keyword switch
            {
                "HELP" => 'H',
                "TYPE" => 'T',
                "UNIT" when _om => 'U',
                _ => '\0',
            };
            if (kind == '\0')
            {
                // Text 0.0.4 allows free comments; OpenMetrics has no comments besides its descriptors.
                return _om ? throw Error("unknown comment; OpenMetrics allows only HELP, TYPE, UNIT and EOF") : false;
            }

            Separator(required: true, "expected a space after " + keyword.ToString());
            var name = ReadMetricName();
            var family = DescriptorFamily(name);
            switch (kind)
            {
                case 'H':
                    if (family.Help is not null)
                    {
                        throw Error($"second HELP line for '{name}'");
                    }

                    if (_pos < _end)
                    {
                        Separator(required: true, "expected a space after the metric name");
                    }

                    family.Help = ReadEscaped(help: true);
                    break;
                case 'T':
                    if (family.HasType)
                    {
                        throw Error($"second TYPE line for '{name}'");
                    }

                    if (family.Samples.Count > 0)
                    {
                        throw Error($"TYPE line for '{name}' after its samples");
                    }

                    Separator(required: true, "expected a space after the metric name");
                    family.Type = ReadType();
                    family.HasType = true;
                    break;
                default:
                    if (family.Unit is not null)
                    {
                        throw Error($"second UNIT line for '{name}'");
                    }

                    Separator(required: true, "expected a space after the metric name");
                    family.Unit = _text[_pos.._end];
                    _pos = _end;
                    break;
            }

            return false;
        }

        private ParsedFamily DescriptorFamily(string name)
        {
            if (_byName.TryGetValue(name, out var family))
            {
                if (_om && family != _current)
                {
                    throw Error($"metadata for '{name}' after another family started; OpenMetrics families must be contiguous");
                }

                return family;
            }

            return StartFamily(name);
        }

        private ParsedFamily StartFamily(string name)
        {
            var family = new ParsedFamily(name) { Type = ParsedMetricType.Unknown };
            _families.Add(family);
            _byName.Add(name, family);
            _current = family;
            return family;
        }

        private ParsedMetricType ReadType()
        {
            var start = _pos;
            while (_pos < _end && _text[_pos] is not (' ' or '\t'))
            {
                _pos++;
            }

            var word = _text.AsSpan(start, _pos - start);
            ParsedMetricType? type = word switch
            {
                "counter" => ParsedMetricType.Counter,
                "gauge" => ParsedMetricType.Gauge,
                "histogram" => ParsedMetricType.Histogram,
                "summary" => ParsedMetricType.Summary,
                "untyped" when !_om => ParsedMetricType.Unknown,
                "unknown" when _om => ParsedMetricType.Unknown,
                "gaugehistogram" when _om => ParsedMetricType.GaugeHistogram,
                "stateset" when _om => ParsedMetricType.StateSet,
                "info" when _om => ParsedMetricType.Info,
                _ => null,
            };
            if (type is null)
            {
                throw Error($"unknown metric type '{word.ToString()}'");
            }

            EndOfLine();
            return type.Value;
        }

        private void ReadSample()
        {
            var name = ReadMetricName();
            _labels.Clear();

            // Text 0.0.4 (as expfmt reads it) allows blanks between the name and its label set.
            var afterName = _pos;
            SkipBlanksInText();
            if (_pos < _end && _text[_pos] == '{')
            {
                ReadLabels(_labels);
                afterName = _pos;
                Separator(required: false, string.Empty);
            }

            if (_pos >= _end)
            {
                throw Error("missing value");
            }

            if (_pos == afterName)
            {
                Separator(required: true, "expected a space before the value");
            }

            var value = ReadNumber("value");
            long? timestamp = null;
            if (_pos < _end)
            {
                Separator(required: true, "expected a space after the value");
                if (_pos < _end && _text[_pos] != '#')
                {
                    timestamp = ReadTimestamp();
                    if (_pos < _end)
                    {
                        Separator(required: true, "expected a space after the timestamp");
                    }
                }

                if (_pos < _end)
                {
                    if (!_om || _text[_pos] != '#')
                    {
                        throw Error("unexpected text after the sample");
                    }

                    ReadExemplar();
                }
            }

            var family = SampleFamily(name);
            family.Add(new ParsedSample(name, _labels.Count == 0 ? [] : _labels.ToArray(), value, timestamp));
        }

        /// <summary>Exemplars (<c># {labels} value [timestamp]</c>) are checked and dropped.</summary>
        private void ReadExemplar()
        {
            _pos++;
            Expect(' ', "expected a space after # in an exemplar");
            var labels = new List<KeyValuePair<string, string>>();
            if (_pos >= _end || _text[_pos] != '{')
            {
                throw Error("expected a label set in the exemplar");
            }

            ReadLabels(labels);
            Separator(required: true, "expected a space before the exemplar value");
            _ = ReadNumber("exemplar value");
            if (_pos < _end)
            {
                Separator(required: true, "expected a space before the exemplar timestamp");
                _ = ReadNumber("exemplar timestamp");
            }

            EndOfLine();
        }

        private ParsedFamily SampleFamily(string name)
        {
            var family = FindFamily(name) ?? StartFamily(name);
            if (family != _current)
            {
                if (_om)
                {
                    throw Error($"sample '{name}' after another family started; OpenMetrics families must be contiguous");
                }

                _current = family;
            }

            return family;
        }

        private ParsedFamily? FindFamily(string name)
        {
            // Longest suffix first, so "x_gcount" is the gaugehistogram x's and not a "_count" of "x_g".
            foreach (var suffix in SuffixesByLength)
            {
                if (!name.EndsWith(suffix, StringComparison.Ordinal) || name.Length == suffix.Length)
                {
                    continue;
                }

                if (_byNameLookup.TryGetValue(name.AsSpan(0, name.Length - suffix.Length), out var family))
                {
                    if (TakesSuffix(family.Type, suffix, _om))
                    {
                        return family;
                    }

                    if (suffix.Length == 0)
                    {
                        throw Error($"sample '{name}' is not valid in {family.Type.ToString().ToLowerInvariant()} family '{family.Name}'");
                    }
                }
            }

            return null;
        }

        private void ReadLabels(List<KeyValuePair<string, string>> labels)
        {
            _pos++; // '{'
            while (true)
            {
                SkipBlanksInText();
                if (_pos >= _end)
                {
                    throw Error("unterminated label set");
                }

                if (_text[_pos] == '}')
                {
                    _pos++;
                    return;
                }

                var name = ReadLabelName();
                foreach (var existing in labels)
                {
                    if (existing.Key == name)
                    {
                        throw Error($"duplicate label '{name}'");
                    }
                }

                SkipBlanksInText();
                Expect('=', $"expected '=' after label '{name}'");
                SkipBlanksInText();
                Expect('"', $"expected '\"' to open the value of label '{name}'");
                var value = ReadEscaped(help: false);
                labels.Add(new(name, value));
                SkipBlanksInText();
                if (_pos >= _end)
                {
                    throw Error("unterminated label set");
                }

                var c = _text[_pos++];
                if (c == '}')
                {
                    return;
                }

                if (c != ',')
                {
                    throw Error($"expected ',' or '}}' after the value of label '{name}'");
                }
            }
        }

        /// <summary>
        /// A label value (after its opening quote, through its closing quote) or HELP text (to the end of the line).
        /// Escapes: <c>\\</c>, <c>\n</c>, and <c>\"</c> (label values, and OpenMetrics HELP).
        /// </summary>
        private string ReadEscaped(bool help)
        {
            var start = _pos;
            var plain = true;
            while (_pos < _end)
            {
                var c = _text[_pos];
                if (c == '\\')
                {
                    plain = false;
                    _pos += 2;
                    continue;
                }

                if (!help && c == '"')
                {
                    break;
                }

                _pos++;
            }

            if (!help && _pos >= _end)
            {
                throw Error("unterminated label value");
            }

            var stop = Math.Min(_pos, _end);
            string result;
            if (plain)
            {
                result = _text[start..stop];
            }
            else
            {
                _scratch.Clear();
                for (var i = start; i < stop; i++)
                {
                    var c = _text[i];
                    if (c != '\\')
                    {
                        _scratch.Append(c);
                        continue;
                    }

                    if (i + 1 >= stop)
                    {
                        throw Error(help ? "HELP text ends in a lone backslash" : "label value ends in a lone backslash");
                    }

                    var next = _text[++i];
                    _ = next switch
                    {
                        '\\' => _scratch.Append('\\'),
                        'n' => _scratch.Append('\n'),
                        '"' when !help || _om => _scratch.Append('"'),
                        _ => throw Error($"invalid escape sequence '\\{next}' in {(help ? "HELP text" : "label value")}"),
                    };
                }

                result = _scratch.ToString();
            }

            if (!help)
            {
                _pos++; // closing quote
            }

            return result;
        }

        private string ReadMetricName()
        {
            var start = _pos;
            while (_pos < _end && IsNameChar(_text[_pos], _pos == start, colon: true))
            {
                _pos++;
            }

            if (_pos == start)
            {
                throw Error(_pos < _end ? $"invalid character '{Printable(_text[_pos])}' where a metric name should start" : "missing metric name");
            }

            return Intern(start);
        }

        private string ReadLabelName()
        {
            var start = _pos;
            while (_pos < _end && IsNameChar(_text[_pos], _pos == start, colon: false))
            {
                _pos++;
            }

            if (_pos == start)
            {
                throw Error(_pos < _end ? $"invalid character '{Printable(_text[_pos])}' where a label name should start" : "unterminated label set");
            }

            return Intern(start);
        }

        private string Intern(int start)
        {
            var span = _text.AsSpan(start, _pos - start);
            if (_nameLookup.TryGetValue(span, out var existing))
            {
                return existing;
            }

            var name = span.ToString();
            _names.Add(name, name);
            return name;
        }

        private double ReadNumber(string what)
        {
            var token = Token();
            if (token.IsEmpty)
            {
                throw Error($"missing {what}");
            }

            return PrometheusFloat.TryParse(token, out var value) ? value : throw Error($"invalid {what} '{token.ToString()}'");
        }

        private long ReadTimestamp()
        {
            var token = Token();
            if (_om)
            {
                // OpenMetrics timestamps are seconds, possibly fractional.
                if (!PrometheusFloat.TryParse(token, out var seconds) || !double.IsFinite(seconds) || Math.Abs(seconds) > long.MaxValue / 1000.0)
                {
                    throw Error($"invalid timestamp '{token.ToString()}'");
                }

                return (long)Math.Round(seconds * 1000);
            }

            return long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms)
                ? ms
                : throw Error($"invalid timestamp '{token.ToString()}'");
        }

        private ReadOnlySpan<char> Token()
        {
            var start = _pos;
            while (_pos < _end && _text[_pos] is not (' ' or '\t'))
            {
                _pos++;
            }

            return _text.AsSpan(start, _pos - start);
        }

        private void Separator(bool required, string message)
        {
            var start = _pos;
            if (_om)
            {
                if (_pos < _end && _text[_pos] == ' ')
                {
                    _pos++;
                }
            }
            else
            {
                SkipBlanks();
            }

            if (required && _pos == start)
            {
                throw Error(_pos < _end ? $"{message}, found '{Printable(_text[_pos])}'" : $"{message}, found end of line");
            }
        }

        private void EndOfLine()
        {
            if (!_om)
            {
                SkipBlanks();
            }

            if (_pos < _end)
            {
                throw Error($"unexpected '{Printable(_text[_pos])}' at end of line");
            }
        }

        private void Expect(char c, string message)
        {
            if (_pos >= _end || _text[_pos] != c)
            {
                throw Error(message);
            }

            _pos++;
        }

        private void SkipBlanks()
        {
            while (_pos < _end && _text[_pos] is ' ' or '\t')
            {
                _pos++;
            }
        }

        /// <summary>Text 0.0.4 allows blanks between label tokens; OpenMetrics does not.</summary>
        private void SkipBlanksInText()
        {
            if (!_om)
            {
                SkipBlanks();
            }
        }

        private static bool IsNameChar(char c, bool first, bool colon) =>
            c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (colon && c == ':') || (!first && c is >= '0' and <= '9');

        private static string Printable(char c) => char.IsControl(c) || char.IsSurrogate(c)
            ? "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture)
            : c.ToString();

        private ExpositionParseException Error(string reason) => new(_lineNumber, reason);
    }
}
