using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Monitor.Contracts;

/// <summary>
/// YamlDotNet's <c>YamlStream</c> builds its node tree recursively, so a document nested about 100,000 levels deep
/// (200 KB of '[') overflows the stack, which no catch can handle: the process dies. Its event parser is not
/// recursive, so every configuration file is walked here first and anything deeper than it can use is refused.
/// </summary>
public static class YamlNesting
{
    /// <summary>Whether <paramref name="text"/> nests mappings and sequences at most <paramref name="max"/> deep.
    /// A syntax error is left for the real parse to report (it throws <see cref="YamlException"/> there).</summary>
    public static bool IsWithin(string text, int max)
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
