using System.Buffers.Binary;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// Reads the entries <c>nvmlDeviceGet*RunningProcesses_v3</c> wrote. Drivers 510–530 and 535.98+ write 24-byte
/// <see cref="NvmlProcessInfo"/> entries; 535.43–535.86 wrote 32 bytes (a trailing protected-memory field) without
/// a version bump (reference nvml.md §4). The caller passes a buffer of capacity × <see cref="MaxStride"/> bytes
/// pre-filled with <see cref="Sentinel"/>; the stride is what the driver actually wrote.
/// </summary>
internal static class NvmlProcessList
{
    /// <summary>The largest entry any driver writes.</summary>
    public const int MaxStride = 32;

    /// <summary>The fill byte that marks bytes the driver did not write.</summary>
    public const byte Sentinel = 0xA5;

    private const int Stride = 24;

    /// <summary>
    /// Appends the <paramref name="count"/> entries in <paramref name="buffer"/> to <paramref name="into"/>. A 24-byte
    /// driver writes only the first count × 24 bytes, so any written byte in [count × 24, count × 32) means 32-byte entries.
    /// </summary>
    public static void Parse(ReadOnlySpan<byte> buffer, uint count, List<NvmlProcessInfo> into)
    {
        var n = (int)Math.Min(count, (uint)(buffer.Length / MaxStride));
        if (n == 0)
        {
            return;
        }

        var stride = StrideOf(buffer, n);
        for (var i = 0; i < n; i++)
        {
            var entry = buffer.Slice(i * stride, Stride);
            into.Add(new NvmlProcessInfo
            {
                Pid = BinaryPrimitives.ReadUInt32LittleEndian(entry),
                UsedGpuMemory = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
                GpuInstanceId = BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]),
                ComputeInstanceId = BinaryPrimitives.ReadUInt32LittleEndian(entry[20..]),
            });
        }
    }

    /// <summary>24 or 32: the bytes per entry the driver wrote for <paramref name="count"/> entries.</summary>
    public static int StrideOf(ReadOnlySpan<byte> buffer, int count) =>
        buffer[(count * Stride)..(count * MaxStride)].IndexOfAnyExcept(Sentinel) >= 0 ? MaxStride : Stride;
}
