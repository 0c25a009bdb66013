using System.Globalization;
using Xunit;

namespace Monitor.Testing;

/// <summary>
/// A minimal reading of Prometheus text output for golden comparisons: each sample line becomes
/// <c>name{labels}</c> → value. Labels are kept as written; node_exporter and our writer both sort them by name.
/// </summary>
public static class PromSamples
{
    /// <summary>Parses sample lines (comments and blank lines are skipped).</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var value = line[(space + 1)..] switch
            {
                "NaN" => double.NaN,
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples[line[..space]] = value;
        }

        return samples;
    }

    /// <summary>The series of the given families, as <c>name{labels}</c>, ignoring values.</summary>
    public static SortedSet<string> SeriesKeys(string text, params string[] families) =>
        new(Parse(text).Keys.Where(k => families.Contains(k[..(k.IndexOf('{', StringComparison.Ordinal) is var i and >= 0 ? i : k.Length)], StringComparer.Ordinal)), StringComparer.Ordinal);

    /// <summary>Keeps only samples whose metric name starts with one of <paramref name="prefixes"/>.</summary>
    public static Dictionary<string, double> Only(Dictionary<string, double> samples, params string[] prefixes) =>
        samples.Where(s => prefixes.Any(p => s.Key.StartsWith(p, StringComparison.Ordinal)))
            .ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal);

    /// <summary>
    /// Asserts both sets hold the same series with values equal to within a relative 1e-12 (or both NaN), and names
    /// every difference in the failure message.
    /// </summary>
    public static void AssertEquivalent(IReadOnlyDictionary<string, double> expected, IReadOnlyDictionary<string, double> actual)
    {
        var problems = new List<string>();
        foreach (var (key, value) in expected)
        {
            if (!actual.TryGetValue(key, out var got))
            {
                problems.Add($"missing: {key} {value.ToString("R", CultureInfo.InvariantCulture)}");
            }
            else if (!Same(value, got))
            {
                problems.Add($"value: {key} expected {value.ToString("R", CultureInfo.InvariantCulture)} got {got.ToString("R", CultureInfo.InvariantCulture)}");
            }
        }

        foreach (var key in actual.Keys.Where(k => !expected.ContainsKey(k)))
        {
            problems.Add($"unexpected: {key} {actual[key].ToString("R", CultureInfo.InvariantCulture)}");
        }

        Assert.True(problems.Count == 0, $"{problems.Count} differences:\n" + string.Join('\n', problems.Order(StringComparer.Ordinal)));
    }

    private static bool Same(double a, double b) =>
        (double.IsNaN(a) && double.IsNaN(b)) || a == b || Math.Abs(a - b) <= 1e-12 * Math.Max(Math.Abs(a), Math.Abs(b));
}
