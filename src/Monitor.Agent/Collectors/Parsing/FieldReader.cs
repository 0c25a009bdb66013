namespace Monitor.Agent.Collectors.Parsing;

/// <summary>Splits a span into whitespace-separated fields without allocating.</summary>
internal ref struct FieldReader
{
    private ReadOnlySpan<char> _rest;

    public FieldReader(ReadOnlySpan<char> text) => _rest = text;

    /// <summary>The text not consumed yet.</summary>
    public readonly ReadOnlySpan<char> Rest => _rest;

    /// <summary>Returns the next field, skipping spaces and tabs.</summary>
    public bool TryNext(out ReadOnlySpan<char> field)
    {
        var i = 0;
        while (i < _rest.Length && _rest[i] is ' ' or '\t')
        {
            i++;
        }

        var start = i;
        while (i < _rest.Length && _rest[i] is not (' ' or '\t'))
        {
            i++;
        }

        field = _rest[start..i];
        _rest = _rest[i..];
        return !field.IsEmpty;
    }
}

/// <summary>Iterates the lines of a span without allocating.</summary>
internal ref struct LineReader
{
    private ReadOnlySpan<char> _rest;

    public LineReader(ReadOnlySpan<char> text) => _rest = text;

    /// <summary>Returns the next line without its terminator; false at end of text.</summary>
    public bool TryNext(out ReadOnlySpan<char> line)
    {
        if (_rest.IsEmpty)
        {
            line = default;
            return false;
        }

        var nl = _rest.IndexOf('\n');
        if (nl < 0)
        {
            line = _rest;
            _rest = default;
        }
        else
        {
            line = _rest[..nl];
            _rest = _rest[(nl + 1)..];
        }

        return true;
    }
}
