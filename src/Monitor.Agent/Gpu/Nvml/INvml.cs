namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// The NVML calls the GPU collector makes, as one seam: <see cref="NativeNvml"/> calls the real library (or the C
/// fake in tests/native), and unit tests use a managed double. Every method returns NVML's own result code.
/// </summary>
internal interface INvml
{
    /// <summary>Loads the library at <paramref name="path"/> and initializes NVML; false with a reason otherwise.</summary>
    bool TryInitialize(string path, out string? problem);

    /// <summary><c>nvmlDeviceGetCount_v2</c>.</summary>
    NvmlReturn DeviceCount(out uint count);

    /// <summary><c>nvmlDeviceGetHandleByIndex_v2</c>.</summary>
    NvmlReturn DeviceHandle(uint index, out nint device);

    /// <summary><c>nvmlDeviceGetName</c>.</summary>
    NvmlReturn Name(nint device, out string name);

    /// <summary><c>nvmlDeviceGetUUID</c>.</summary>
    NvmlReturn Uuid(nint device, out string uuid);

    /// <summary><c>nvmlDeviceGetUtilizationRates</c>.</summary>
    NvmlReturn Utilization(nint device, out NvmlUtilization utilization);

    /// <summary><c>nvmlDeviceGetMemoryInfo_v2</c>; null reserved when only v1 exists (pre-R510).</summary>
    NvmlReturn Memory(nint device, out ulong total, out ulong used, out ulong free, out ulong? reserved);

    /// <summary><c>nvmlDeviceGetTemperature</c> for the GPU sensor, °C.</summary>
    NvmlReturn Temperature(nint device, out uint celsius);

    /// <summary><c>nvmlDeviceGetPowerUsage</c>, mW.</summary>
    NvmlReturn PowerUsage(nint device, out uint milliwatts);

    /// <summary><c>nvmlDeviceGetTotalEnergyConsumption</c>, mJ since driver load.</summary>
    NvmlReturn Energy(nint device, out ulong millijoules);

    /// <summary><c>nvmlDeviceGetClockInfo</c> (current), MHz; type 0 graphics, 1 SM, 2 memory, 3 video.</summary>
    NvmlReturn Clock(nint device, int clockType, out uint megahertz);

    /// <summary><c>nvmlDeviceGetMaxClockInfo</c>, MHz.</summary>
    NvmlReturn MaxClock(nint device, int clockType, out uint megahertz);

    /// <summary><c>nvmlDeviceGetPerformanceState</c>: 0–15, 32 unknown.</summary>
    NvmlReturn PerformanceState(nint device, out int state);

    /// <summary><c>nvmlDeviceGetCurrentClocksEventReasons</c> (R535+), else the older <c>…ThrottleReasons</c> with the same bits.</summary>
    NvmlReturn ClockEventReasons(nint device, out ulong reasons);

    /// <summary><c>nvmlDeviceGetTemperatureThreshold</c>, °C; 0 shutdown, 1 slowdown.</summary>
    NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius);

    /// <summary><c>nvmlDeviceGetTotalEccErrors</c>: error type 0 corrected, 1 uncorrected; counter 0 volatile, 1 aggregate.</summary>
    NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count);

    /// <summary><c>nvmlDeviceGetRemappedRows</c> (Ampere+, not with MIG on).</summary>
    NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure);

    /// <summary><c>nvmlDeviceGetCurrPcieLinkGeneration</c> and <c>…Width</c>.</summary>
    NvmlReturn PcieLink(nint device, out uint generation, out uint width);

    /// <summary><c>nvmlDeviceGetPcieReplayCounter</c>.</summary>
    NvmlReturn PcieReplays(nint device, out uint count);

    /// <summary>
    /// Creates an event set and registers the XID critical-error event (0x8) on every device that supports it;
    /// returns the set, or 0 when no device supports it.
    /// </summary>
    nint CreateXidEventSet(IReadOnlyList<nint> devices);

    /// <summary><c>nvmlEventSetWait_v2</c>: TIMEOUT when nothing happened within <paramref name="timeoutMilliseconds"/>.</summary>
    NvmlReturn WaitEvent(nint set, uint timeoutMilliseconds, out NvmlEventData data);

    /// <summary><c>nvmlDeviceGetEncoderUtilization</c> (<paramref name="decoder"/> false) or <c>…DecoderUtilization</c>, %.</summary>
    NvmlReturn CodecUtilization(nint device, bool decoder, out uint percent);

    /// <summary><c>nvmlDeviceGetFanSpeed</c>, % of maximum (can exceed 100); NOT_SUPPORTED on boards without fans.</summary>
    NvmlReturn FanSpeed(nint device, out uint percent);

    /// <summary><c>nvmlErrorString</c>.</summary>
    string ErrorString(NvmlReturn result);
}
