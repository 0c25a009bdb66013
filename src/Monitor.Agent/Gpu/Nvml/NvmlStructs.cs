using System.Runtime.InteropServices;

namespace Monitor.Agent.Gpu.Nvml;

// Layouts from the NVML 13.3 header as laid out by gcc on x86-64 (reference nvml.md §4). Every size and offset is
// asserted in NvmlStructLayoutTests; a mismatch would read the wrong bytes silently.

/// <summary><c>nvmlPciInfo_t</c> (for <c>nvmlDeviceGetPciInfo_v3</c>), 68 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NvmlPciInfo
{
    /// <summary>"0000:00:06.0", NUL-terminated.</summary>
    public fixed byte BusIdLegacy[16];

    /// <summary>PCI domain.</summary>
    public uint Domain;

    /// <summary>PCI bus.</summary>
    public uint Bus;

    /// <summary>PCI device.</summary>
    public uint Device;

    /// <summary>device &lt;&lt; 16 | vendor.</summary>
    public uint PciDeviceId;

    /// <summary>Subsystem id.</summary>
    public uint PciSubSystemId;

    /// <summary>"00000000:00:06.0", NUL-terminated.</summary>
    public fixed byte BusId[32];
}

/// <summary><c>nvmlUtilization_t</c>: percentages over the last sample period.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlUtilization
{
    /// <summary>GPU busy, %.</summary>
    public uint Gpu;

    /// <summary>Memory controller busy, %.</summary>
    public uint Memory;
}

/// <summary><c>nvmlMemory_t</c> (v1): <c>Used</c> includes the driver's reserved memory.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemory
{
    /// <summary>Bytes.</summary>
    public ulong Total;

    /// <summary>Bytes.</summary>
    public ulong Free;

    /// <summary>Bytes, reserved included.</summary>
    public ulong Used;
}

/// <summary><c>nvmlMemory_v2_t</c> (R510+): what nvidia-smi reports; <c>Used = Total − Reserved − Free</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlMemoryV2
{
    /// <summary>sizeof | 2 &lt;&lt; 24; a wrong version returned FUNCTION_NOT_FOUND on 580, not ARGUMENT_VERSION_MISMATCH.</summary>
    public const uint StructVersion = 40 | (2u << 24);

    /// <summary>Set to <see cref="StructVersion"/> before the call.</summary>
    public uint Version;

    /// <summary>Bytes.</summary>
    public ulong Total;

    /// <summary>Bytes held by the driver.</summary>
    public ulong Reserved;

    /// <summary>Bytes.</summary>
    public ulong Free;

    /// <summary>Bytes.</summary>
    public ulong Used;
}

/// <summary><c>nvmlProcessInfo_t</c> (v2 layout, used by the <c>_v3</c> process functions), 24 bytes — except on R535.43–535.86, which wrote 32.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlProcessInfo
{
    /// <summary>Host pid.</summary>
    public uint Pid;

    /// <summary>Bytes; NVML_VALUE_NOT_AVAILABLE (ulong.MaxValue) when unknown.</summary>
    public ulong UsedGpuMemory;

    /// <summary>0xFFFFFFFF when MIG is off.</summary>
    public uint GpuInstanceId;

    /// <summary>0xFFFFFFFF when MIG is off.</summary>
    public uint ComputeInstanceId;
}

/// <summary><c>nvmlProcessUtilizationSample_t</c>, 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlProcessUtilizationSample
{
    /// <summary>Host pid.</summary>
    public uint Pid;

    /// <summary>CPU timestamp, µs.</summary>
    public ulong TimeStamp;

    /// <summary>SM %.</summary>
    public uint SmUtil;

    /// <summary>Memory %.</summary>
    public uint MemUtil;

    /// <summary>Encoder %.</summary>
    public uint EncUtil;

    /// <summary>Decoder %.</summary>
    public uint DecUtil;
}

/// <summary><c>nvmlValue_t</c>: a union; <see cref="NvmlFieldValue.ValueType"/> says which member is valid.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct NvmlValue
{
    /// <summary>Type 0.</summary>
    [FieldOffset(0)]
    public double Double;

    /// <summary>Type 1.</summary>
    [FieldOffset(0)]
    public uint UInt;

    /// <summary>Types 2 and 3 (unsigned long and unsigned long long are both 8 bytes here).</summary>
    [FieldOffset(0)]
    public ulong ULong;

    /// <summary>Type 4.</summary>
    [FieldOffset(0)]
    public long SLong;

    /// <summary>Type 5.</summary>
    [FieldOffset(0)]
    public int SInt;

    /// <summary>Type 6.</summary>
    [FieldOffset(0)]
    public ushort UShort;
}

/// <summary><c>nvmlFieldValue_t</c>, 40 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlFieldValue
{
    /// <summary>NVML_FI_* id, set by the caller.</summary>
    public uint FieldId;

    /// <summary>Link or power scope, set by the caller.</summary>
    public uint ScopeId;

    /// <summary>µs since 1970; pre-set to 0 so an entry NVML left unwritten is recognisable (580 quirk).</summary>
    public long Timestamp;

    /// <summary>Read latency, µs.</summary>
    public long LatencyUsec;

    /// <summary>Which <see cref="Value"/> member is valid (0 double, 1 uint, 2/3 ulong, 4 long, 5 int, 6 ushort).</summary>
    public int ValueType;

    /// <summary>Per-entry result; pre-set to 999 (Unknown) for the same reason as <see cref="Timestamp"/>.</summary>
    public int NvmlReturn;

    /// <summary>The value.</summary>
    public NvmlValue Value;
}

/// <summary><c>nvmlEventData_t</c>, 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlEventData
{
    /// <summary>The device handle.</summary>
    public nint Device;

    /// <summary>The event bit (0x8 = XID critical error).</summary>
    public ulong EventType;

    /// <summary>The XID for XID events (999 = unknown), 0 otherwise.</summary>
    public ulong EventData;

    /// <summary>MIG GPU instance (privileged callers only).</summary>
    public uint GpuInstanceId;

    /// <summary>MIG compute instance (privileged callers only).</summary>
    public uint ComputeInstanceId;
}

/// <summary><c>nvmlGpmSupport_t</c>, 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlGpmSupport
{
    /// <summary>Set to 1 before the call.</summary>
    public uint Version;

    /// <summary>1 on Hopper and newer.</summary>
    public uint IsSupportedDevice;
}

/// <summary><c>nvmlGpmMetric_t</c>, 40 bytes: one entry of <c>nvmlGpmMetricsGet_t.metrics</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlGpmMetric
{
    /// <summary>NVML_GPM_METRIC_* id, set by the caller.</summary>
    public uint MetricId;

    /// <summary>This metric's own result: check it before <see cref="Value"/>.</summary>
    public int NvmlReturn;

    /// <summary>The value (% for utilizations, MiB/s for rates).</summary>
    public double Value;

    /// <summary>Points into NVML's memory (or is null): never freed.</summary>
    public nint ShortName;

    /// <summary>Points into NVML's memory (or is null): never freed.</summary>
    public nint LongName;

    /// <summary>Points into NVML's memory (or is null): never freed.</summary>
    public nint Unit;
}

/// <summary>The fixed head of <c>nvmlGpmMetricsGet_t</c>, 24 bytes; the metric array follows at offset 24.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NvmlGpmMetricsGetHeader
{
    /// <summary>1.</summary>
    public uint Version;

    /// <summary>How many entries of the metric array the caller filled.</summary>
    public uint NumMetrics;

    /// <summary>The earlier sample.</summary>
    public nint Sample1;

    /// <summary>The later sample.</summary>
    public nint Sample2;
}

