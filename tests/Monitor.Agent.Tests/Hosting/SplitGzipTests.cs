using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Monitor.Agent.Hosting;
using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Agent.Tests.Hosting;

public sealed class SplitGzipTests
{
    [Theory]
    [InlineData(5)] // one part
    [InlineData(40)]
    [InlineData(300)]
    public async Task WriteAsync_IsOneGzipMember_OfExactlyWhatWriteToWrites(int families)
    {
        var registry = RegistryOfFamilies(families, i => i % 7);
        var gzip = new SplitGzip();

        // Three rounds: the split moves after each response.
        for (var round = 0; round < 3; round++)
        {
            foreach (var format in new[] { ExpositionFormat.Text004, ExpositionFormat.OpenMetrics100 })
            {
                var expected = Encoding.UTF8.GetBytes(Render(registry, format));
                var (gzipped, size) = await GzipAsync(gzip, registry, format);

                Assert.Equal(expected.Length, size);
                Assert.Equal(expected, Inflate(gzipped));
            }
        }
    }

    [Fact]
    public async Task WriteAsync_SplitMovesToBalanceTheBytes()
    {
        // The first family carries nearly all the bytes: the second half should start right after it.
        var registry = RegistryOfFamilies(100, i => i == 0 ? 2000 : 1);
        var gzip = new SplitGzip();

        for (var i = 0; i < 3; i++)
        {
            var (gzipped, _) = await GzipAsync(gzip, registry, ExpositionFormat.Text004);
            Assert.Equal(Encoding.UTF8.GetBytes(Render(registry)), Inflate(gzipped));
        }

        Assert.Equal(1, gzip.Split);
    }

    [Fact]
    public async Task WriteAsync_ConcurrentResponses_EachComplete()
    {
        var registry = RegistryOfFamilies(120, i => i % 11);
        var gzip = new SplitGzip();
        var expected = Encoding.UTF8.GetBytes(Render(registry));

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => GzipAsync(gzip, registry, ExpositionFormat.Text004))));

        Assert.All(responses, r => Assert.Equal(expected, Inflate(r.Gzipped)));
    }

    [Fact]
    public void RawDeflater_EachCompressDecodesOnItsOwn_AcrossReuse()
    {
        using var deflater = new RawDeflater();
        var random = new Random(7);
        const string Line = "node_cpu_seconds_total{cpu=\"0\"} 1.5\n";

        // Small, then larger than the output spans the deflater asks for, then incompressible: all through one state.
        foreach (var size in new[] { 10, 300_000, 70_000 })
        {
            var text = new byte[size];
            for (var i = 0; i < size; i++)
            {
                text[i] = size == 70_000 ? (byte)random.Next(256) : (byte)Line[i % Line.Length];
            }

            using var output = new PooledBufferWriter(16);
            deflater.Compress(text, output);
            output.Write((ReadOnlySpan<byte>)[0x03, 0x00]);

            using var inflate = new DeflateStream(new MemoryStream(output.WrittenSpan.ToArray()), CompressionMode.Decompress);
            Assert.Equal(text, ReadAll(inflate));
        }
    }

    /// <summary>
    /// The body decoded as one gzip member: the header, one raw deflate stream that gives the whole text and ends
    /// exactly before the trailer (a part that ended the stream early would leave text out), and the trailer's CRC-32
    /// and size of that text. Checked against .NET's gzip reader too.
    /// </summary>
    private static byte[] Inflate(byte[] gzipped)
    {
        Assert.Equal([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3], gzipped[..10]);
        byte[] text;
        using (var inflate = new DeflateStream(new MemoryStream(gzipped, 10, gzipped.Length - 18), CompressionMode.Decompress))
        {
            text = ReadAll(inflate);
        }

        Assert.Equal(Crc32.HashToUInt32(text), BinaryPrimitives.ReadUInt32LittleEndian(gzipped.AsSpan(gzipped.Length - 8)));
        Assert.Equal((uint)text.Length, BinaryPrimitives.ReadUInt32LittleEndian(gzipped.AsSpan(gzipped.Length - 4)));
        using var gunzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress);
        Assert.Equal(text, ReadAll(gunzip));
        return text;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    private static async Task<(byte[] Gzipped, int Size)> GzipAsync(SplitGzip gzip, MetricRegistry registry, ExpositionFormat format)
    {
        using var output = new PooledBufferWriter();
        int size;
        using (var pinned = registry.Pin())
        {
            size = await gzip.WriteAsync(pinned, format, output, 1024);
        }

        return (output.WrittenSpan.ToArray(), size);
    }

    /// <summary><paramref name="count"/> counter families over three groups, family i with seriesOf(i) series.</summary>
    private static MetricRegistry RegistryOfFamilies(int count, Func<int, int> seriesOf)
    {
        var groups = Enumerable.Range(0, 3).Select(g => new MetricGroup($"g{g}")).ToArray();
        for (var i = 0; i < count; i++)
        {
            var family = groups[i % 3].Counter($"m_{i:D4}_total", $"Family {i}, with some help text to compress.", "device");
            for (var n = 0; n < seriesOf(i); n++)
            {
                family.Get($"dev{n}").Set(n * 1.5 + i);
            }
        }

        return RegistryOf(groups);
    }
}
