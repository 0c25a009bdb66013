using System.Globalization;
using System.Text;

namespace Monitor.Testing.Fuzz;

/// <summary>How fuzz inputs are shown in failures: short, escaped, and with their full length.</summary>
public static class FuzzText
{
    /// <summary>Characters (or bytes) of an input shown in a failure message.</summary>
    public const int Shown = 600;

    /// <summary>A readable, bounded description of an input: its length and its start with control characters escaped.</summary>
    public static string Describe(object? input) => input switch
    {
        null => "null",
        string text => string.Create(CultureInfo.InvariantCulture, $"{text.Length} chars \"{Escape(text.AsSpan(0, Math.Min(text.Length, Shown)))}\"{(text.Length > Shown ? "…" : "")}"),
        byte[] bytes => string.Create(CultureInfo.InvariantCulture, $"{bytes.Length} bytes {Convert.ToHexString(bytes, 0, Math.Min(bytes.Length, Shown))}{(bytes.Length > Shown ? "…" : "")}"),
        System.Runtime.CompilerServices.ITuple tuple => "(" + string.Join(", ", Enumerable.Range(0, tuple.Length).Select(i => Describe(tuple[i]))) + ")",
        System.Collections.IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Take(20).Select(Describe)) + "]",
        _ => input.ToString() ?? string.Empty,
    };

    /// <summary>
    /// Writes the whole input to a file under the temp folder and returns its path: a hung case cannot be shrunk or
    /// replayed from a seed, so its input is kept instead.
    /// </summary>
    public static string Dump(object? input)
    {
        var path = Path.Join(Path.GetTempPath(), $"monitor-fuzz-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, input switch
        {
            string text => text,
            byte[] bytes => Convert.ToBase64String(bytes),
            _ => Describe(input),
        });
        return path;
    }

    /// <summary>C#-style escapes for everything outside printable ASCII.</summary>
    public static string Escape(ReadOnlySpan<char> text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append(@"\n"),
                '\r' => sb.Append(@"\r"),
                '\t' => sb.Append(@"\t"),
                >= ' ' and <= '~' => sb.Append(c),
                _ => sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
            };
        }

        return sb.ToString();
    }

    /// <summary>A property name made safe as a file name.</summary>
    public static string FileName(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] is not ('.' or '-' or '_'))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }
}
