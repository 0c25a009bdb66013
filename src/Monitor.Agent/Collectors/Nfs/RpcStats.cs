using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Nfs;

/// <summary>
/// <c>/proc/net/rpc/nfs</c> and <c>/proc/net/rpc/nfsd</c> as procfs v0.8.0 reads them for node_exporter 1.5.0: one line
/// per statistic, a name and whole numbers; an unknown name, a line with no number, a value that is not a whole number,
/// or a line of the wrong length fails the whole file. A line the file lacks reads as zeros, so every series is still
/// exported, as node_exporter does.
/// </summary>
internal sealed class RpcStats
{
    private readonly string[] _names;
    private readonly ulong[][] _values;
    private readonly int[] _counts;

    /// <summary>A reader that accepts the lines <paramref name="names"/>, each up to <paramref name="maxValues"/> numbers.</summary>
    public RpcStats(string[] names, int maxValues = 256)
    {
        _names = names;
        _values = [.. names.Select(_ => new ulong[maxValues])];
        _counts = new int[names.Length];
    }

    /// <summary>The numbers of line <paramref name="index"/> (of the names given), empty when the file lacks it.</summary>
    public ReadOnlySpan<ulong> Line(int index) => _values[index].AsSpan(0, _counts[index]);

    /// <summary>
    /// Reads <paramref name="text"/>; <paramref name="firstTwoOnly"/> names lines of which only the first two numbers
    /// count (nfsd's <c>th</c>, whose histogram is fractional). Returns the problem, or null.
    /// </summary>
    public string? Parse(ReadOnlySpan<char> text, string? firstTwoOnly = null)
    {
        Array.Clear(_counts);
        var lines = new LineReader(text);
        while (lines.TryNext(out var line))
        {
            var fields = new FieldReader(line);
            if (!fields.TryNext(out var name) || !new FieldReader(fields.Rest).TryNext(out _))
            {
                return $"invalid metric line '{line.ToString()}'";
            }

            var index = IndexOf(name);
            if (index < 0)
            {
                return $"unknown metric line '{name.ToString()}'";
            }

            var limit = firstTwoOnly is not null && name.SequenceEqual(firstTwoOnly) ? 2 : int.MaxValue;
            var values = _values[index];
            var count = 0;
            while (count < limit && fields.TryNext(out var field))
            {
                if (count == values.Length)
                {
                    return $"line '{name.ToString()}' has more than {values.Length} numbers";
                }

                if (!Numbers.TryParseUInt64(field, out values[count]))
                {
                    return $"line '{name.ToString()}': '{field.ToString()}' is not a whole number";
                }

                count++;
            }

            if (limit == 2 && count < 2)
            {
                return $"invalid {name.ToString()} line '{line.ToString()}'";
            }

            _counts[index] = count;
        }

        return null;
    }

    /// <summary>
    /// Checks a counted line (<c>proc2</c>: the first number says how many follow): null when the line is absent or its
    /// count matches and is at least <paramref name="least"/> (and, with <paramref name="exactly"/>, equal to it).
    /// </summary>
    public string? CheckCounted(int index, int least, bool exactly = false)
    {
        var line = Line(index);
        if (line.Length == 0)
        {
            return null;
        }

        var declared = line[0];
        return (ulong)(line.Length - 1) != declared || declared < (ulong)least || (exactly && declared != (ulong)least)
            ? $"invalid {_names[index]} line: {declared} declared, {line.Length - 1} given"
            : null;
    }

    /// <summary>Checks a line of a fixed length: null when absent or exactly <paramref name="length"/> numbers long.</summary>
    public string? CheckLength(int index, int length) =>
        _counts[index] is var count && (count == 0 || count == length) ? null : $"invalid {_names[index]} line: {count} numbers, not {length}";

    /// <summary>Number <paramref name="at"/> of line <paramref name="index"/>, 0 when the line is absent or shorter.</summary>
    public double Value(int index, int at) => at < _counts[index] ? _values[index][at] : 0;

    private int IndexOf(ReadOnlySpan<char> name)
    {
        for (var i = 0; i < _names.Length; i++)
        {
            if (name.SequenceEqual(_names[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
