using System.Text;
using System.Text.RegularExpressions;

namespace Monitor.Agent.Collectors.Textfile;

/// <summary>
/// The two pieces of Go's <c>path/filepath</c> that the textfile collector's directory flag relies on:
/// <c>Glob</c> (<c>*</c>, <c>?</c>, <c>[...]</c> and <c>\</c> escapes, per path element, matches sorted) and
/// <c>Join</c>, which cleans the result (<c>./a//b/</c> becomes <c>a/b</c>), so the <c>file</c> label of
/// <c>node_textfile_mtime_seconds</c> reads as node_exporter's does.
/// </summary>
internal static class PathGlob
{
    /// <summary>The paths <paramref name="pattern"/> matches, sorted; empty when it matches nothing or is malformed.</summary>
    public static IReadOnlyList<string> Expand(string pattern)
    {
        if (!HasMeta(pattern))
        {
            return Directory.Exists(pattern) || File.Exists(pattern) ? [pattern] : [];
        }

        var slash = pattern.LastIndexOf('/');
        var dir = slash < 0 ? "." : slash == 0 ? "/" : pattern[..slash];
        var file = pattern[(slash + 1)..];
        if (ToRegex(file) is not { } regex)
        {
            return [];
        }

        var dirs = HasMeta(dir) ? Expand(dir) : [dir];
        var matches = new List<string>();
        foreach (var d in dirs)
        {
            string[] names;
            try
            {
                names = Directory.GetFileSystemEntries(d).Select(Path.GetFileName).OfType<string>().ToArray();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            Array.Sort(names, StringComparer.Ordinal);
            foreach (var name in names)
            {
                if (regex.IsMatch(name))
                {
                    matches.Add(slash < 0 ? name : Join(d, name));
                }
            }
        }

        return matches;
    }

    /// <summary>Go's <c>filepath.Join(a, b)</c>: joined, then cleaned.</summary>
    public static string Join(string directory, string name) =>
        Clean(directory.Length == 0 ? name : directory + "/" + name);

    /// <summary>Go's <c>filepath.Clean</c>: the shortest equivalent path, lexically.</summary>
    public static string Clean(string path)
    {
        if (path.Length == 0)
        {
            return ".";
        }

        var rooted = path[0] == '/';
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0 && parts[^1] != "..")
                {
                    parts.RemoveAt(parts.Count - 1);
                }
                else if (!rooted)
                {
                    parts.Add(part);
                }

                continue;
            }

            parts.Add(part);
        }

        var joined = string.Join('/', parts);
        return rooted ? "/" + joined : joined.Length == 0 ? "." : joined;
    }

    private static bool HasMeta(string path) => path.AsSpan().IndexOfAny("*?[\\") >= 0;

    /// <summary>One path element's pattern as an anchored regex (Go's <c>filepath.Match</c>); null when malformed.</summary>
    private static Regex? ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            switch (c)
            {
                case '*':
                    sb.Append("[^/]*");
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '\\':
                    if (++i >= pattern.Length)
                    {
                        return null;
                    }

                    sb.Append(Regex.Escape(pattern[i].ToString()));
                    break;
                case '[':
                    var close = pattern.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        return null;
                    }

                    var body = pattern[(i + 1)..close];
                    sb.Append('[').Append(body[0] == '^' ? "^" + Regex.Escape(body[1..]).Replace("\\-", "-", StringComparison.Ordinal) : Regex.Escape(body).Replace("\\-", "-", StringComparison.Ordinal)).Append(']');
                    i = close;
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }

        try
        {
            return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
