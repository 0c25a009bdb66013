using Monitor.Core.Exposition;
using Xunit;

namespace Monitor.Testing;

/// <summary>
/// The <c># HELP</c> and <c># TYPE</c> lines of Prometheus text output, per family, so a golden test can check that
/// our families are described exactly as the peer exporter describes them (dashboards show HELP; TYPE drives
/// <c>rate()</c> warnings).
/// </summary>
public static class PromMetadata
{
    /// <summary>Family name → (HELP text, TYPE as written), for the families that have either, read by <see cref="TextParser"/>.</summary>
    public static Dictionary<string, (string? Help, string? Type)> Parse(string text) =>
        TextParser.Parse(text, ExpositionFormat.Text004)
            .Select(f => (f.Name, f.Help, Type: TypeName(f, text)))
            .Where(f => f.Help is not null || f.Type is not null)
            .ToDictionary(f => f.Name, f => (f.Help, f.Type), StringComparer.Ordinal);

    private static string? TypeName(ParsedFamily family, string text) => family.Type switch
    {
        ParsedMetricType.Unknown => text.Contains($"# TYPE {family.Name} untyped", StringComparison.Ordinal) ? "untyped" : null,
        var type => type.ToString().ToLowerInvariant(),
    };

    /// <summary>Asserts both outputs declare the same families with identical HELP and TYPE, naming every difference.</summary>
    public static void AssertSame(string expectedText, string actualText)
    {
        var expected = Parse(expectedText);
        var actual = Parse(actualText);
        var problems = new List<string>();
        foreach (var (name, meta) in expected)
        {
            if (!actual.TryGetValue(name, out var got))
            {
                problems.Add($"missing family: {name}");
                continue;
            }

            if (!string.Equals(meta.Help, got.Help, StringComparison.Ordinal))
            {
                problems.Add($"HELP of {name}: expected '{meta.Help}' got '{got.Help}'");
            }

            if (!string.Equals(meta.Type, got.Type, StringComparison.Ordinal))
            {
                problems.Add($"TYPE of {name}: expected '{meta.Type}' got '{got.Type}'");
            }
        }

        problems.AddRange(actual.Keys.Where(k => !expected.ContainsKey(k)).Select(k => $"unexpected family: {k}"));
        Assert.True(problems.Count == 0, $"{problems.Count} differences:\n" + string.Join('\n', problems.Order(StringComparer.Ordinal)));
    }
}
