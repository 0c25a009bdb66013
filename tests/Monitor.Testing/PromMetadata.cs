using Xunit;

namespace Monitor.Testing;

/// <summary>
/// The <c># HELP</c> and <c># TYPE</c> lines of Prometheus text output, per family, so a golden test can check that
/// our families are described exactly as the peer exporter describes them (dashboards show HELP; TYPE drives
/// <c>rate()</c> warnings).
/// </summary>
public static class PromMetadata
{
    /// <summary>Family name → (HELP text as written, TYPE).</summary>
    public static Dictionary<string, (string? Help, string? Type)> Parse(string text)
    {
        var families = new Dictionary<string, (string? Help, string? Type)>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var isHelp = line.StartsWith("# HELP ", StringComparison.Ordinal);
            if (!isHelp && !line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line[7..];
            var space = rest.IndexOf(' ', StringComparison.Ordinal);
            var name = space < 0 ? rest : rest[..space];
            var value = space < 0 ? "" : rest[(space + 1)..];
            families.TryGetValue(name, out var entry);
            families[name] = isHelp ? entry with { Help = value } : entry with { Type = value };
        }

        return families;
    }

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
