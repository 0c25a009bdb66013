using System.Text;
using Monitor.Agent.Collectors.Parsing;

namespace Monitor.Agent.Collectors.Filesystem;

/// <summary>One line of <c>/proc/&lt;pid&gt;/mountinfo</c>, with the fields the filesystem collector uses.</summary>
/// <param name="Device">The mount source (field 10), as written (e.g. <c>/dev/sda1</c>, <c>server:/export</c>).</param>
/// <param name="MountPoint">The mount point (field 5) with the kernel's octal escapes (<c>\040</c> etc.) decoded.</param>
/// <param name="FsType">The filesystem type (field 9).</param>
/// <param name="MountOptions">Per-mount options (field 6), e.g. <c>rw,relatime</c>.</param>
/// <param name="SuperOptions">Per-superblock options (field 11); empty when the kernel wrote none.</param>
internal readonly record struct MountEntry(string Device, string MountPoint, string FsType, string MountOptions, string SuperOptions)
{
    /// <summary>True when <c>ro</c> is among the mount or superblock options (node_exporter's <c>readonly</c>).</summary>
    public bool IsReadOnly => HasOption(MountOptions, "ro") || HasOption(SuperOptions, "ro");

    private static bool HasOption(ReadOnlySpan<char> options, ReadOnlySpan<char> option)
    {
        foreach (var range in options.Split(','))
        {
            if (options[range].SequenceEqual(option))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// Parses <c>/proc/&lt;pid&gt;/mountinfo</c> (proc(5)):
/// <c>36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue</c>. The number of optional
/// fields (<c>shared:N</c>, <c>master:N</c>, ...) varies, so the fields after the mount options are read up to the
/// lone <c>-</c> separator.
/// </summary>
internal static class MountInfoParser
{
    /// <summary>Parses one line; never throws.</summary>
    public static ParseResult<MountEntry> ParseLine(ReadOnlySpan<char> line)
    {
        var fields = new FieldReader(line);
        ReadOnlySpan<char> mountPoint = default;
        ReadOnlySpan<char> mountOptions = default;
        for (var i = 0; i < 6; i++)
        {
            if (!fields.TryNext(out var field))
            {
                return ParseResult<MountEntry>.Fail($"expected at least 6 fields before the separator, found {i}");
            }

            if (i == 4)
            {
                mountPoint = field;
            }
            else if (i == 5)
            {
                mountOptions = field;
            }
        }

        var separatorFound = false;
        while (fields.TryNext(out var optional))
        {
            if (optional is "-")
            {
                separatorFound = true;
                break;
            }
        }

        if (!separatorFound)
        {
            return ParseResult<MountEntry>.Fail("no ' - ' separator after the optional fields");
        }

        if (!fields.TryNext(out var fsType) || !fields.TryNext(out var device))
        {
            return ParseResult<MountEntry>.Fail("expected filesystem type and mount source after ' - '");
        }

        fields.TryNext(out var superOptions);
        if (!TryUnescape(mountPoint, out var decodedMountPoint))
        {
            return ParseResult<MountEntry>.Fail($"bad escape in mount point '{mountPoint}'");
        }

        return ParseResult<MountEntry>.Ok(new MountEntry(
            ToUtf8(device), decodedMountPoint, fsType.ToString(), mountOptions.ToString(), superOptions.ToString()));
    }

    /// <summary>Parses a whole file; fails on the first malformed line, naming it.</summary>
    public static ParseResult<List<MountEntry>> Parse(ReadOnlySpan<char> text)
    {
        var entries = new List<MountEntry>();
        var lines = new LineReader(text);
        var number = 0;
        while (lines.TryNext(out var line))
        {
            number++;
            if (line.IsWhiteSpace())
            {
                continue;
            }

            var entry = ParseLine(line);
            if (!entry.Success)
            {
                return ParseResult<List<MountEntry>>.Fail($"line {number}: {entry.Error}");
            }

            entries.Add(entry.Value);
        }

        return ParseResult<List<MountEntry>>.Ok(entries);
    }

    /// <summary>
    /// Decodes the kernel's <c>\ooo</c> escapes (it escapes space, tab, newline and backslash in paths; see
    /// <c>show_mountinfo</c> / <c>seq_path</c> in fs/proc_namespace.c). A backslash not followed by three octal
    /// digits is kept as is.
    /// </summary>
    public static bool TryUnescape(ReadOnlySpan<char> text, out string decoded)
    {
        if (!text.Contains('\\') && Ascii.IsValid(text))
        {
            decoded = text.ToString();
            return true;
        }

        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && IsOctal(text[i + 1]) && IsOctal(text[i + 2]) && IsOctal(text[i + 3]))
            {
                var value = ((text[i + 1] - '0') * 64) + ((text[i + 2] - '0') * 8) + (text[i + 3] - '0');
                if (value > 255)
                {
                    decoded = string.Empty;
                    return false;
                }

                bytes.Add((byte)value);
                i += 3;
            }
            else
            {
                // The reader decodes kernel text as Latin1, so every char here is one original byte.
                bytes.Add((byte)text[i]);
            }
        }

        decoded = Encoding.UTF8.GetString(bytes.ToArray());
        return true;
    }

    /// <summary>Turns Latin1-decoded kernel bytes back into UTF-8 text (paths and sources are UTF-8 on modern systems).</summary>
    private static string ToUtf8(ReadOnlySpan<char> latin1)
    {
        if (Ascii.IsValid(latin1))
        {
            return latin1.ToString();
        }

        var bytes = new byte[latin1.Length];
        Encoding.Latin1.GetBytes(latin1, bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
