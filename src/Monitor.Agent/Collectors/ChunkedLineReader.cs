using System.Text;

namespace Monitor.Agent.Collectors;

/// <summary>A callback for one line (without its newline) of a streamed file.</summary>
internal delegate void LineHandler<TState>(ReadOnlySpan<char> line, int lineNumber, ref TState state);

/// <summary>
/// Streams a procfs file line by line in 64 KiB chunks with reusable buffers, for files that can outgrow
/// <see cref="TextFileReader.MaxBytes"/> on a big host (<c>/proc/net/udp</c> with tens of thousands of sockets,
/// <c>/proc/schedstat</c> with a thousand CPUs). Not thread-safe: give each collector its own.
/// </summary>
internal sealed class ChunkedLineReader
{
    private const int ChunkBytes = 64 * 1024;

    private readonly byte[] _bytes = new byte[ChunkBytes];
    private char[] _chars = new char[ChunkBytes];

    /// <summary>
    /// Calls <paramref name="handler"/> for each line of <paramref name="path"/>, numbered from 1; a last line without a
    /// newline is passed too, an empty file calls nothing. Throws what opening or reading throws, and what the handler throws.
    /// </summary>
    public void ForEachLine<TState>(string path, ref TState state, LineHandler<TState> handler)
    {
        ReadTracker.Note(path);
        using var file = KernelFile.Open(path);
        Stream(file, ref state, handler);
    }

    /// <summary>
    /// <see cref="ForEachLine"/>, or false without calling <paramref name="handler"/> when <paramref name="path"/> does
    /// not exist (<see cref="KernelFile.TryOpen"/>).
    /// </summary>
    public bool TryForEachLine<TState>(string path, ref TState state, LineHandler<TState> handler)
    {
        ReadTracker.Note(path);
        if (!KernelFile.TryOpen(path, out var file))
        {
            return false;
        }

        using (file)
        {
            Stream(file, ref state, handler);
        }

        return true;
    }

    private void Stream<TState>(KernelFile.Descriptor file, ref TState state, LineHandler<TState> handler)
    {
        long offset = 0;
        var carried = 0;
        var lineNumber = 0;
        while (true)
        {
            var n = Math.Max(file.Read(_bytes, offset), 0);
            var last = n == 0 || KernelFile.EndsFile(n, _bytes.Length);
            offset += n;
            if (carried + n > _chars.Length)
            {
                Array.Resize(ref _chars, Math.Max(_chars.Length * 2, carried + n));
            }

            carried += Encoding.Latin1.GetChars(_bytes.AsSpan(0, n), _chars.AsSpan(carried));
            var text = _chars.AsSpan(0, carried);
            var consumed = 0;
            while (consumed < carried)
            {
                var rest = text[consumed..];
                var nl = rest.IndexOf('\n');
                if (nl < 0 && !last)
                {
                    break;
                }

                var line = nl < 0 ? rest : rest[..nl];
                consumed += nl < 0 ? rest.Length : nl + 1;
                handler(line, ++lineNumber, ref state);
            }

            if (last)
            {
                return;
            }

            // Keep the unfinished line for the next chunk.
            text[consumed..].CopyTo(_chars);
            carried -= consumed;
        }
    }
}
