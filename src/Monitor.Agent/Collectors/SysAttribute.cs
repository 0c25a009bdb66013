using System.Text;

namespace Monitor.Agent.Collectors;

/// <summary>
/// procfs' <c>util.SysReadFile</c>: one <c>read</c> of at most 128 bytes, then Go's <c>bytes.TrimSpace</c>. For the
/// text attributes that become label values (model, serial, firmware) in the optional-hardware collectors.
/// </summary>
internal static class SysAttribute
{
    private const int MaxBytes = 128;

    /// <summary>Go's unicode.IsSpace over the characters these files can hold.</summary>
    public const string GoSpace = " \t\n\v\f\r\u0085\u00A0";

    /// <summary>
    /// Reads the attribute into <paramref name="destination"/> (at least 128 chars) and returns the trimmed text, without
    /// allocating. Throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>.
    /// </summary>
    public static ReadOnlySpan<char> Read(string path, Span<char> destination)
    {
        ReadTracker.Note(path);
        Span<byte> bytes = stackalloc byte[MaxBytes];
        int n;
        using (var file = KernelFile.Open(path))
        {
            n = file.Read(bytes, 0);
        }

        var length = Encoding.UTF8.GetChars(bytes[..Math.Max(n, 0)], destination);
        return destination[..length].Trim(GoSpace);
    }

    /// <summary>Go's <c>strconv.ParseUint(s, 0, 64)</c>: decimal, or hex, octal or binary after 0x, 0 or 0o, 0b; underscores between digits.</summary>
    public static bool TryParseGoUInt64(ReadOnlySpan<char> text, out ulong value)
    {
        value = 0;
        var radix = 10u;
        var digits = text;
        if (text.Length > 1 && text[0] == '0')
        {
            var prefix = char.ToLowerInvariant(text[1]);
            radix = prefix switch
            {
                'x' => 16u,
                'b' => 2u,
                _ => 8u,
            };
            digits = prefix is 'x' or 'b' or 'o' ? text[2..] : text[1..];
        }

        var any = false;
        var lastUnderscore = digits.Length == text.Length; // "0x_1" is allowed, "_1" and "1__2" are not
        foreach (var c in digits)
        {
            if (c == '_')
            {
                if (lastUnderscore)
                {
                    return false;
                }

                lastUnderscore = true;
                continue;
            }

            var d = c switch
            {
                >= '0' and <= '9' => (uint)(c - '0'),
                >= 'a' and <= 'f' => (uint)(c - 'a' + 10),
                >= 'A' and <= 'F' => (uint)(c - 'A' + 10),
                _ => uint.MaxValue,
            };
            if (d >= radix || value > (ulong.MaxValue - d) / radix)
            {
                return false;
            }

            value = (value * radix) + d;
            any = true;
            lastUnderscore = false;
        }

        return any && !lastUnderscore;
    }

    /// <summary>Reads the attribute. Throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>.</summary>
    public static string Read(string path)
    {
        ReadTracker.Note(path);
        Span<byte> bytes = stackalloc byte[MaxBytes];
        int n;
        using (var file = KernelFile.Open(path))
        {
            n = file.Read(bytes, 0);
        }

        Span<char> chars = stackalloc char[MaxBytes];
        var length = Encoding.UTF8.GetChars(bytes[..Math.Max(n, 0)], chars);
        return new string(chars[..length].Trim(GoSpace));
    }
}
