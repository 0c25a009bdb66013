using System.Buffers;
using System.Runtime.InteropServices;

namespace Monitor.Agent.Hosting;

/// <summary>
/// A raw deflate stream (no zlib or gzip framing) that lives across responses: each <see cref="Compress"/> ends with a
/// full flush, so what it wrote is byte-aligned and refers to nothing written before it, and the same zlib state
/// serves the next response. zlib-ng through the runtime's own System.IO.Compression.Native, at level 1 (what
/// <see cref="System.IO.Compression.CompressionLevel.Fastest"/> is), as <see cref="System.IO.Compression.DeflateStream"/> uses it.
/// </summary>
/// <remarks>
/// <see cref="System.IO.Compression.DeflateStream"/> cannot be reset, so a stream per response had zlib allocate,
/// clear and free its ~330 KB of state every scrape: glibc trimmed and faulted those pages back in (28 page faults a
/// scrape once two threads compressed at once, <see cref="SplitGzip"/>), and clearing the tables was 1.6 % of the
/// agent's CPU. A pool of these keeps that state for the life of the process (docs/dependencies.md).
/// </remarks>
internal sealed unsafe partial class RawDeflater : IDisposable
{
    private const string Library = "libSystem.IO.Compression.Native";
    private const int FastestLevel = 1;
    private const int Deflated = 8;
    private const int RawWindowBits = -15;
    private const int DefaultMemLevel = 8;
    private const int DefaultStrategy = 0;
    private const int FullFlush = 3;
    private const int Ok = 0;
    private const int BufferError = -5;

    /// <summary>What the runtime's shim passes to zlib (pal_zlib.h); kept in native memory, so it never moves.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public nint Message;
        public nint InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

    private ZStream* _stream;

    public RawDeflater()
    {
        _stream = (ZStream*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
        var result = DeflateInit(_stream, FastestLevel, Deflated, RawWindowBits, DefaultMemLevel, DefaultStrategy);
        if (result != Ok)
        {
            System.Runtime.InteropServices.NativeMemory.Free(_stream);
            _stream = null;
            throw new InvalidOperationException($"zlib deflateInit2 failed ({result})");
        }
    }

    /// <summary>
    /// Deflates <paramref name="input"/> into <paramref name="output"/> and flushes fully: the bytes written decode on
    /// their own after any earlier output of this stream, and end on a byte boundary without a final block.
    /// </summary>
    public void Compress(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        ObjectDisposedException.ThrowIf(_stream is null, this);
        fixed (byte* inputBytes = input)
        {
            _stream->NextIn = inputBytes;
            _stream->AvailIn = (uint)input.Length;
            while (true)
            {
                var span = output.GetSpan(Math.Max(input.Length / 4, 4096));
                fixed (byte* outputBytes = span)
                {
                    _stream->NextOut = outputBytes;
                    _stream->AvailOut = (uint)span.Length;
                    var result = Deflate(_stream, FullFlush);
                    var written = span.Length - (int)_stream->AvailOut;
                    output.Advance(written);

                    // zlib: the flush is complete once a call leaves output space unused.
                    if (result == Ok && _stream->AvailIn == 0 && _stream->AvailOut > 0)
                    {
                        break;
                    }

                    if (result != Ok && !(result == BufferError && written > 0))
                    {
                        throw new InvalidOperationException($"zlib deflate failed ({result})");
                    }
                }
            }

            _stream->NextIn = null;
            _stream->NextOut = null;
        }
    }

    public void Dispose()
    {
        if (_stream is not null)
        {
            _ = DeflateEnd(_stream);
            System.Runtime.InteropServices.NativeMemory.Free(_stream);
            _stream = null;
        }
    }

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateInit2_")]
    private static partial int DeflateInit(ZStream* stream, int level, int method, int windowBits, int memLevel, int strategy);

    [LibraryImport(Library, EntryPoint = "CompressionNative_Deflate")]
    private static partial int Deflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "CompressionNative_DeflateEnd")]
    private static partial int DeflateEnd(ZStream* stream);
}
