using System.Text;
using Monitor.Core.Exposition;

namespace Monitor.Testing;

/// <summary>Helpers for tests of the exposition writer and parser.</summary>
public static class Exposition
{
    /// <summary>Renders <paramref name="registry"/> to a string.</summary>
    public static string Render(MetricRegistry registry, ExpositionFormat format = ExpositionFormat.Text004)
    {
        using var writer = new PooledBufferWriter(1024);
        registry.WriteTo(writer, format);
        return Encoding.UTF8.GetString(writer.WrittenSpan);
    }

    /// <summary>A registry holding the given groups.</summary>
    public static MetricRegistry RegistryOf(params MetricGroup[] groups)
    {
        var registry = new MetricRegistry();
        foreach (var group in groups)
        {
            registry.Register(group);
        }

        return registry;
    }

    /// <summary>Label values that exercise every escape and some non-ASCII text.</summary>
    public static IReadOnlyList<string> TrickyLabelValues { get; } =
    [
        string.Empty, "plain", "back\\slash", "quote\"d", "new\nline", "\\n literal", "trailing\\", "\"", "{a=\"b\",c}",
        "tab\there", "# not a comment", "ünïcödé ✓", "emoji 🎉", "spaces  in  value", "comma,value", "=", "}",
    ];
}
