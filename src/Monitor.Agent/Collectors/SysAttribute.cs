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

    /// <summary>Reads the attribute. Throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>.</summary>
    public static string Read(string path)
    {
        ReadTracker.Note(path);
        Span<byte> bytes = stackalloc byte[MaxBytes];
        int n;
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            n = RandomAccess.Read(handle, bytes, 0);
        }

        Span<char> chars = stackalloc char[MaxBytes];
        var length = Encoding.UTF8.GetChars(bytes[..Math.Max(n, 0)], chars);
        return new string(chars[..length].Trim(GoSpace));
    }
}
