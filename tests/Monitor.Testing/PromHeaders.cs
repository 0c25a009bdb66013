namespace Monitor.Testing;

/// <summary>Reads the <c># HELP</c> and <c># TYPE</c> lines of Prometheus text output, to compare family metadata.</summary>
public static class PromHeaders
{
    /// <summary>Family name → (help, type), for every family that has both lines.</summary>
    public static Dictionary<string, (string Help, string Type)> Parse(string text)
    {
        var help = new Dictionary<string, string>(StringComparer.Ordinal);
        var type = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var rest = line[7..];
                var space = rest.IndexOf(' ', StringComparison.Ordinal);
                var name = space < 0 ? rest : rest[..space];
                var value = space < 0 ? string.Empty : rest[(space + 1)..];
                (line[2] == 'H' ? help : type)[name] = value;
            }
        }

        return help.Keys.Where(type.ContainsKey).ToDictionary(n => n, n => (help[n], type[n]), StringComparer.Ordinal);
    }

    /// <summary>The label sets of every sample, as <c>name{labels}</c>, ignoring values.</summary>
    public static SortedSet<string> SeriesKeys(string text, params string[] families) =>
        new(PromSamples.Parse(text).Keys.Where(k => families.Contains(k[..(k.IndexOf('{', StringComparison.Ordinal) is var i and >= 0 ? i : k.Length)], StringComparer.Ordinal)), StringComparer.Ordinal);
}
