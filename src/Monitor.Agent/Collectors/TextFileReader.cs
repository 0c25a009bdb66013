using System.Text;

namespace Monitor.Agent.Collectors;

/// <summary>
/// Reads small kernel text files (procfs, sysfs) into reusable buffers and returns their content as chars, so a
/// collector that reads the same files every scrape allocates nothing (<see cref="KernelFile"/>). Not thread-safe: give each
/// collector its own.
/// </summary>
/// <remarks>
/// procfs files report a size of 0, so we read until end of file, capped at <see cref="MaxBytes"/> like procfs'
/// <c>ReadFileNoStat</c>; a read that returns less than asked and at most 2 KiB is that end
/// (<see cref="KernelFile.EndsFile"/>), unless the reader was made for files with long records. sysfs attributes are read with a single <c>read</c> (<see cref="ReadAttribute"/>), as
/// procfs' <c>SysReadFile</c> does: some hwmon attributes block or return EAGAIN on a second read.
/// </remarks>
/// <param name="longRecords">
/// True for files whose records can exceed 2 KiB (mountinfo, mdstat): every read goes on to a read that returns 0.
/// </param>
internal sealed class TextFileReader(bool longRecords = false)
{
    /// <summary>Largest file read, 1 MiB.</summary>
    public const int MaxBytes = 1 << 20;

    private byte[] _bytes = new byte[4096];
    private char[] _chars = new char[4096];

    /// <summary>Reads a whole file. Throws <see cref="IOException"/> (including FileNotFound) and <see cref="UnauthorizedAccessException"/>.</summary>
    public ReadOnlySpan<char> ReadAll(string path)
    {
        ReadTracker.Note(path);
        using var file = KernelFile.Open(path);
        return ReadToEnd(file);
    }

    /// <summary>
    /// Reads a whole file like <see cref="ReadAll"/>, or returns false when it does not exist (<see
    /// cref="KernelFile.TryOpen"/>): for optional sources, without a stat before the read or an exception after it.
    /// </summary>
    public bool TryReadAll(string path, out ReadOnlySpan<char> text)
    {
        ReadTracker.Note(path);
        if (!KernelFile.TryOpen(path, out var file))
        {
            text = default;
            return false;
        }

        using (file)
        {
            text = ReadToEnd(file);
        }

        return true;
    }

    private ReadOnlySpan<char> ReadToEnd(KernelFile.Descriptor file)
    {
        var total = 0;
        while (true)
        {
            if (total == _bytes.Length)
            {
                if (_bytes.Length >= MaxBytes)
                {
                    break;
                }

                Array.Resize(ref _bytes, Math.Min(_bytes.Length * 2, MaxBytes));
            }

            var requested = _bytes.Length - total;
            var n = file.Read(_bytes.AsSpan(total), total);
            if (n <= 0)
            {
                break;
            }

            total += n;
            if (!longRecords && KernelFile.EndsFile(n, requested))
            {
                break;
            }
        }

        return Decode(total);
    }

    /// <summary>Reads a sysfs attribute with one read call and trims the trailing newline.</summary>
    public ReadOnlySpan<char> ReadAttribute(string path)
    {
        ReadTracker.Note(path);
        using var file = KernelFile.Open(path);
        var n = file.Read(_bytes.AsSpan(), 0);
        return Decode(Math.Max(n, 0)).TrimEnd("\n\0 ");
    }

    private ReadOnlySpan<char> Decode(int byteCount)
    {
        if (_chars.Length < byteCount)
        {
            _chars = new char[Math.Max(byteCount, _chars.Length * 2)];
        }

        // Kernel text is ASCII; Latin1 maps each byte to one char and never fails on odd bytes.
        var chars = Encoding.Latin1.GetChars(_bytes.AsSpan(0, byteCount), _chars);
        return _chars.AsSpan(0, chars);
    }
}
