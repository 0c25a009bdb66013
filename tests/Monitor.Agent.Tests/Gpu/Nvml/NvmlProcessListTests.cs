using System.Buffers.Binary;
using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Tests.Gpu.Nvml;

/// <summary>
/// <see cref="NvmlProcessList"/> over hand-built buffers laid out as the driver writes them: 24-byte
/// <c>nvmlProcessInfo_v2_t</c> entries (510–530, 535.98+) or the 32-byte R535.43–535.86 entries (the v2 struct plus
/// <c>ulong usedGpuCcProtectedMemory</c> at offset 24), in a buffer pre-filled with the sentinel (reference nvml.md §4).
/// </summary>
public sealed class NvmlProcessListTests
{
    private const byte Fill = 0xA5;
    private const uint NoInstance = 0xFFFFFFFF;

    [Fact]
    public void Constants_AreTheLargestEntryAndTheFillByte()
    {
        Assert.Equal(32, NvmlProcessList.MaxStride);
        Assert.Equal(Fill, NvmlProcessList.Sentinel);
    }

    [Fact]
    public void Parse_24ByteEntries_ReadsEachField()
    {
        var buffer = Buffer(capacity: 4);
        Write(buffer, 24, 0, pid: 1234, used: 256UL << 20, gi: NoInstance, ci: NoInstance);
        Write(buffer, 24, 1, pid: 99999, used: 3_624UL << 20, gi: NoInstance, ci: NoInstance);
        Write(buffer, 24, 2, pid: 7, used: 0, gi: NoInstance, ci: NoInstance);
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(buffer, 3, into);

        Assert.Equal(24, NvmlProcessList.StrideOf(buffer, 3));
        Assert.Equal([1234u, 99999u, 7u], into.Select(p => p.Pid));
        Assert.Equal([268435456UL, 3800039424UL, 0UL], into.Select(p => p.UsedGpuMemory));
        Assert.All(into, p => Assert.Equal((NoInstance, NoInstance), (p.GpuInstanceId, p.ComputeInstanceId)));
    }

    [Fact]
    public void Parse_32ByteEntries_ReadsEachFieldAtTheWrittenStride()
    {
        var buffer = Buffer(capacity: 4);
        Write(buffer, 32, 0, pid: 2000, used: 256UL << 20, gi: NoInstance, ci: NoInstance);
        Write(buffer, 32, 1, pid: 2001, used: 512UL << 20, gi: NoInstance, ci: NoInstance);
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(buffer, 2, into);

        Assert.Equal(32, NvmlProcessList.StrideOf(buffer, 2));
        Assert.Equal([2000u, 2001u], into.Select(p => p.Pid));
        Assert.Equal([268435456UL, 536870912UL], into.Select(p => p.UsedGpuMemory));
        Assert.All(into, p => Assert.Equal((NoInstance, NoInstance), (p.GpuInstanceId, p.ComputeInstanceId)));
    }

    [Fact]
    public void Parse_32ByteEntry_OneProcess_DetectedByItsProtectedMemoryField()
    {
        // With one entry the only bytes past 24 are usedGpuCcProtectedMemory (0 here): enough to tell the layouts apart.
        var buffer = Buffer(capacity: 16);
        Write(buffer, 32, 0, pid: 42, used: 1UL << 30, gi: NoInstance, ci: NoInstance);
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(buffer, 1, into);

        Assert.Equal(32, NvmlProcessList.StrideOf(buffer, 1));
        Assert.Equal(42u, Assert.Single(into).Pid);
        Assert.Equal(1UL << 30, into[0].UsedGpuMemory);
    }

    [Fact]
    public void Parse_CountZero_AddsNothing()
    {
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(Buffer(capacity: 16), 0, into);
        NvmlProcessList.Parse([], 0, into);

        Assert.Empty(into);
    }

    [Fact]
    public void Parse_CountLargerThanTheBuffer_ReadsOnlyWhatFits()
    {
        // Two entries' room (64 bytes); a count of 5 must not read past the buffer.
        var buffer = Buffer(capacity: 2);
        Write(buffer, 24, 0, pid: 10, used: 1, gi: NoInstance, ci: NoInstance);
        Write(buffer, 24, 1, pid: 11, used: 2, gi: NoInstance, ci: NoInstance);
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(buffer, 5, into);

        Assert.Equal([10u, 11u], into.Select(p => p.Pid));
        Assert.Equal([1UL, 2UL], into.Select(p => p.UsedGpuMemory));
    }

    [Fact]
    public void Parse_BufferSmallerThanOneEntry_AddsNothing()
    {
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(Buffer(capacity: 0).Concat(new byte[31]).ToArray(), 1, into);

        Assert.Empty(into);
    }

    [Theory]
    [InlineData(24)]
    [InlineData(32)]
    public void Parse_MigIds_ReadPerEntry(int stride)
    {
        var buffer = Buffer(capacity: 8);
        for (var k = 0u; k < 4; k++)
        {
            Write(buffer, stride, (int)k, pid: 3000 + k, used: (k + 1) << 28, gi: 1 + (k % 2), ci: k / 2);
        }

        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(buffer, 4, into);

        Assert.Equal(stride, NvmlProcessList.StrideOf(buffer, 4));
        Assert.Equal([(3000u, 1u, 0u), (3001u, 2u, 0u), (3002u, 1u, 1u), (3003u, 2u, 1u)], into.Select(p => (p.Pid, p.GpuInstanceId, p.ComputeInstanceId)));
        Assert.Equal([1UL << 28, 2UL << 28, 3UL << 28, 4UL << 28], into.Select(p => p.UsedGpuMemory));
    }

    [Fact]
    public void Parse_AppendsToTheList()
    {
        var buffer = Buffer(capacity: 1);
        Write(buffer, 24, 0, pid: 5, used: 6, gi: NoInstance, ci: NoInstance);
        var into = new List<NvmlProcessInfo> { new() { Pid = 1 } };

        NvmlProcessList.Parse(buffer, 1, into);

        Assert.Equal([1u, 5u], into.Select(p => p.Pid));
    }

    [Fact]
    public void Parse_24ByteEntries_FieldBytesEqualToTheSentinelDoNotChangeTheStride()
    {
        // Values made of 0xA5 bytes inside the written entries are data, not "unwritten": only the tail decides.
        var buffer = Buffer(capacity: 2);
        Write(buffer, 24, 0, pid: 0xA5A5A5A5, used: 0xA5A5A5A5A5A5A5A5, gi: 0xA5A5A5A5, ci: 0xA5A5A5A5);
        Write(buffer, 24, 1, pid: 1, used: 2, gi: 3, ci: 4);
        var into = new List<NvmlProcessInfo>();

        NvmlProcessList.Parse(buffer, 2, into);

        Assert.Equal(24, NvmlProcessList.StrideOf(buffer, 2));
        Assert.Equal(0xA5A5A5A5u, into[0].Pid);
        Assert.Equal(0xA5A5A5A5A5A5A5A5UL, into[0].UsedGpuMemory);
        Assert.Equal((1u, 2UL, 3u, 4u), (into[1].Pid, into[1].UsedGpuMemory, into[1].GpuInstanceId, into[1].ComputeInstanceId));
    }

    /// <summary>capacity × 32 bytes of sentinel, as the binding allocates before the call.</summary>
    private static byte[] Buffer(int capacity)
    {
        var buffer = new byte[capacity * 32];
        Array.Fill(buffer, Fill);
        return buffer;
    }

    /// <summary>Entry <paramref name="index"/> as a driver with <paramref name="stride"/>-byte entries writes it (padding and the 32-byte tail zeroed).</summary>
    private static void Write(byte[] buffer, int stride, int index, uint pid, ulong used, uint gi, uint ci)
    {
        var entry = buffer.AsSpan(index * stride, stride);
        entry.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(entry, pid);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], used);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], gi);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[20..], ci);
    }
}
