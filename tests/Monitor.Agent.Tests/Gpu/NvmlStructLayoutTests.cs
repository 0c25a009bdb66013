using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Tests.Gpu;

/// <summary>Sizes and offsets against the gcc layouts of the NVML 13.3 header (reference nvml.md §4).</summary>
public sealed class NvmlStructLayoutTests
{
    [Fact]
    public void Sizes_MatchTheHeader()
    {
        Assert.Equal(68, Unsafe.SizeOf<NvmlPciInfo>());
        Assert.Equal(8, Unsafe.SizeOf<NvmlUtilization>());
        Assert.Equal(24, Unsafe.SizeOf<NvmlMemory>());
        Assert.Equal(40, Unsafe.SizeOf<NvmlMemoryV2>());
        Assert.Equal(24, Unsafe.SizeOf<NvmlProcessInfo>());
        Assert.Equal(32, Unsafe.SizeOf<NvmlProcessUtilizationSample>());
        Assert.Equal(8, Unsafe.SizeOf<NvmlValue>());
        Assert.Equal(40, Unsafe.SizeOf<NvmlFieldValue>());
        Assert.Equal(32, Unsafe.SizeOf<NvmlEventData>());
    }

    [Theory]
    [InlineData(typeof(NvmlPciInfo), "Domain", 16)]
    [InlineData(typeof(NvmlPciInfo), "PciDeviceId", 28)]
    [InlineData(typeof(NvmlPciInfo), "BusId", 36)]
    [InlineData(typeof(NvmlMemoryV2), "Total", 8)]
    [InlineData(typeof(NvmlMemoryV2), "Reserved", 16)]
    [InlineData(typeof(NvmlMemoryV2), "Used", 32)]
    [InlineData(typeof(NvmlProcessInfo), "UsedGpuMemory", 8)]
    [InlineData(typeof(NvmlProcessInfo), "GpuInstanceId", 16)]
    [InlineData(typeof(NvmlProcessInfo), "ComputeInstanceId", 20)]
    [InlineData(typeof(NvmlProcessUtilizationSample), "TimeStamp", 8)]
    [InlineData(typeof(NvmlProcessUtilizationSample), "SmUtil", 16)]
    [InlineData(typeof(NvmlProcessUtilizationSample), "DecUtil", 28)]
    [InlineData(typeof(NvmlFieldValue), "Timestamp", 8)]
    [InlineData(typeof(NvmlFieldValue), "LatencyUsec", 16)]
    [InlineData(typeof(NvmlFieldValue), "ValueType", 24)]
    [InlineData(typeof(NvmlFieldValue), "NvmlReturn", 28)]
    [InlineData(typeof(NvmlFieldValue), "Value", 32)]
    [InlineData(typeof(NvmlEventData), "EventType", 8)]
    [InlineData(typeof(NvmlEventData), "EventData", 16)]
    [InlineData(typeof(NvmlEventData), "GpuInstanceId", 24)]
    [InlineData(typeof(NvmlEventData), "ComputeInstanceId", 28)]
    public void Offsets_MatchTheHeader(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void MemoryV2Version_IsSizeOrTwoShifted() => Assert.Equal(0x02000028u, NvmlMemoryV2.StructVersion);

    [Fact]
    public void ValueUnion_MembersShareOffsetZero()
    {
        var value = new NvmlValue { ULong = 0x1122334455667788 };

        Assert.Equal(0x55667788u, value.UInt);
        Assert.Equal((ushort)0x7788, value.UShort);
    }
}
