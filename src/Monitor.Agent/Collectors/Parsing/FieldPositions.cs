using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Parsing;

/// <summary>
/// The families of a file whose field names come in the same order on every read (<c>/proc/vmstat</c>,
/// <c>/proc/net/netstat</c>, <c>snmp</c>, <c>snmp6</c>): the family for the name at each position is kept with that
/// name, so the next read compares the name found there with it (a memory compare) instead of hashing it into a
/// dictionary. A name that differs from the one kept (a new kernel's field, a field gone) is looked up by name and
/// kept in its place. Not thread-safe: one per collector and file.
/// </summary>
/// <param name="decide">
/// The family for a name, or null when the name is not exported; called once per name (it declares the family).
/// </param>
internal sealed class FieldPositions(Func<string, MetricFamily?> decide)
{
    private readonly Dictionary<string, MetricFamily?> _byName = new(StringComparer.Ordinal);
    private string[] _names = [];
    private MetricFamily?[] _families = [];

    /// <summary>The family for <paramref name="name"/>, found at <paramref name="position"/> of the file.</summary>
    public MetricFamily? At(int position, ReadOnlySpan<char> name)
    {
        if (position < _names.Length && _names[position] is { } kept && name.SequenceEqual(kept))
        {
            return _families[position];
        }

        if (position >= _names.Length)
        {
            var size = Math.Max(position + 1, _names.Length * 2);
            Array.Resize(ref _names, size);
            Array.Resize(ref _families, size);
        }

        var text = name.ToString();
        if (!_byName.TryGetValue(text, out var family))
        {
            // Decided once per name: the pattern and the name do not change, and a family is declared only once.
            family = decide(text);
            _byName[text] = family;
        }

        _names[position] = text;
        return _families[position] = family;
    }
}
