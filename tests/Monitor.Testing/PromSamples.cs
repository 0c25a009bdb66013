using System.Globalization;
using System.Text;
using Monitor.Core.Exposition;
using Xunit;

namespace Monitor.Testing;

/// <summary>
/// Prometheus text output read for golden comparisons: each sample becomes <c>name{labels}</c> → value. Labels are
/// kept in written order; node_exporter and our writer both sort them by name.
/// </summary>
public static class PromSamples
{
    /// <summary>Parses text 0.0.4 with the agent's own <see cref="TextParser"/> (which throws on malformed input).</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var family in TextParser.Parse(text, ExpositionFormat.Text004))
        {
            foreach (var sample in family.Samples)
            {
                samples[Key(sample)] = sample.Value;
            }
        }

        return samples;
    }

    /// <summary>A sample as <c>name{labels}</c>, labels in written order with exposition escaping.</summary>
    public static string Key(ParsedSample sample)
    {
        if (sample.Labels.Count == 0)
        {
            return sample.Name;
        }

        var key = new StringBuilder(sample.Name).Append('{');
        for (var i = 0; i < sample.Labels.Count; i++)
        {
            var (name, value) = sample.Labels[i];
            key.Append(i == 0 ? "" : ",").Append(name).Append("=\"")
                .Append(value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal))
                .Append('"');
        }

        return key.Append('}').ToString();
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
