using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Monitor.Agent.Gpu.Nvml;

namespace Monitor.Agent.Tests.Gpu.Nvml;

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
        Assert.Equal(8, Unsafe.SizeOf<NvmlGpmSupport>());
        Assert.Equal(40, Unsafe.SizeOf<NvmlGpmMetric>());
        Assert.Equal(24, Unsafe.SizeOf<NvmlGpmMetricsGetHeader>());
        Assert.Equal(8, Marshal.SizeOf<NvmlGpmSupport>());
        Assert.Equal(40, Marshal.SizeOf<NvmlGpmMetric>());
        Assert.Equal(24, Marshal.SizeOf<NvmlGpmMetricsGetHeader>());
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
    [InlineData(typeof(NvmlGpmSupport), "Version", 0)]
    [InlineData(typeof(NvmlGpmSupport), "IsSupportedDevice", 4)]
    [InlineData(typeof(NvmlGpmMetric), "MetricId", 0)]
    [InlineData(typeof(NvmlGpmMetric), "NvmlReturn", 4)]
    [InlineData(typeof(NvmlGpmMetric), "Value", 8)]
    [InlineData(typeof(NvmlGpmMetric), "ShortName", 16)]
    [InlineData(typeof(NvmlGpmMetric), "LongName", 24)]
    [InlineData(typeof(NvmlGpmMetric), "Unit", 32)]
    [InlineData(typeof(NvmlGpmMetricsGetHeader), "Version", 0)]
    [InlineData(typeof(NvmlGpmMetricsGetHeader), "NumMetrics", 4)]
    [InlineData(typeof(NvmlGpmMetricsGetHeader), "Sample1", 8)]
    [InlineData(typeof(NvmlGpmMetricsGetHeader), "Sample2", 16)]
    public void Offsets_MatchTheHeader(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void GpmMetricsGet_IsTheHeaderThen333Metrics()
    {
        // nvmlGpmMetricsGet_t of the 13.3 header: the 24-byte head, then NVML_GPM_METRIC_MAX (333) 40-byte entries.
        Assert.Equal(333, NvmlGpm.MetricMax);
        Assert.Equal(NvmlGpm.MetricsOffset, Unsafe.SizeOf<NvmlGpmMetricsGetHeader>());
        Assert.Equal(13344, NvmlGpm.MetricsGetSize);
        Assert.Equal(NvmlGpm.MetricsGetSize, NvmlGpm.MetricsOffset + (NvmlGpm.MetricMax * Unsafe.SizeOf<NvmlGpmMetric>()));
    }

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
