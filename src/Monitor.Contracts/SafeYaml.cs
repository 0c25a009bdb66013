using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Monitor.Contracts;

/// <summary>
/// Loads a configuration file's YAML so that no content can crash the process. YamlDotNet's <c>YamlStream</c> builds
/// its node tree recursively, so a document nested about 100,000 levels deep (200 KB of '[') overflows the stack,
/// which no catch can handle; its event parser is not recursive, so the nesting is checked with it first. And
/// YamlDotNet 16.3 throws <see cref="InvalidOperationException"/> or <see cref="ArgumentException"/> instead of a
/// <see cref="YamlException"/> for some malformed documents (its scanner on "a: {b_\na: {b_\n", its node loader on
/// a key-less entry such as "a:\n  : x\n  b: c"). Every way of being bad YAML becomes one <see cref="FormatException"/>.
/// </summary>
public static class SafeYaml
{
    /// <summary>
    /// The documents of <paramref name="text"/>; a <see cref="FormatException"/> says "nested deeper than N levels" or
    /// "not valid YAML: …", for the caller to prefix with the file's name.
    /// </summary>
    public static YamlStream Load(string text, int maxDepth)
    {
        var stream = new YamlStream();
        try
        {
            if (!IsWithin(text, maxDepth))
            {
                throw new FormatException($"nested deeper than {maxDepth} levels");
            }

            stream.Load(new StringReader(text));
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException or ArgumentException)
        {
            throw new FormatException($"not valid YAML: {e.Message}", e);
        }

        return stream;
    }

    /// <summary><see cref="Load(string, int)"/> with the errors prefixed by <paramref name="name"/> (the file's path).</summary>
    public static YamlStream Load(string text, int maxDepth, string name)
    {
        try
        {
            return Load(text, maxDepth);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{name}: {e.Message}", e);
        }
    }

    /// <summary>The text of the configuration file at <paramref name="path"/>; a <see cref="FormatException"/> "cannot read …" when it cannot be read.</summary>
    public static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"cannot read {path}: {e.Message}", e);
        }
    }

    /// <summary>Whether <paramref name="text"/> nests mappings and sequences at most <paramref name="max"/> deep.
    /// A syntax error is left for the real parse to report.</summary>
    private static bool IsWithin(string text, int max)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            if (parser.Current is MappingStart or SequenceStart && ++depth > max)
            {
                return false;
            }

            if (parser.Current is MappingEnd or SequenceEnd)
            {
                depth--;
            }
        }

        return true;
    }
}
