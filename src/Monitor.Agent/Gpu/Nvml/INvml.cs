namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// The NVML calls the GPU collector makes, as one seam: <see cref="NativeNvml"/> calls the real library (or the C
/// fake in tests/native), and <see cref="SimulatedNvml"/> simulates GPUs for --gpu.simulate and the unit tests. Every method
/// returns NVML's own result code.
/// </summary>
internal interface INvml
{
    /// <summary>Loads the library at <paramref name="path"/> and initializes NVML; false with a reason otherwise.</summary>
    bool TryInitialize(string path, out string? problem);

    /// <summary>
    /// The optional exports the initialized library lacks (<see cref="NvmlExport"/>): calls that need them answer
    /// FUNCTION_NOT_FOUND, so only their values are absent.
    /// </summary>
    IReadOnlyList<string> MissingExports => [];

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

    /// <summary><c>nvmlShutdown</c>, before a re-initialization.</summary>
    NvmlReturn Shutdown();

    /// <summary><c>nvmlSystemGetDriverVersion</c>.</summary>
    NvmlReturn DriverVersion(out string version);

    /// <summary><c>nvmlDeviceGetSerial</c>; NOT_SUPPORTED without an inforom.</summary>
    NvmlReturn Serial(nint device, out string serial);

    /// <summary><c>nvmlDeviceGetPciInfo_v3</c> bus id, "00000000:17:00.0".</summary>
    NvmlReturn PciBusId(nint device, out string busId);

    /// <summary><c>nvmlDeviceGetVbiosVersion</c>.</summary>
    NvmlReturn VbiosVersion(nint device, out string version);

    /// <summary><c>nvmlDeviceGetCudaComputeCapability</c>.</summary>
    NvmlReturn ComputeCapability(nint device, out int major, out int minor);

    /// <summary><c>nvmlDeviceGetEnforcedPowerLimit</c>, mW.</summary>
    NvmlReturn PowerLimit(nint device, out uint milliwatts);

    /// <summary><c>nvmlDeviceGetMaxPcieLinkGeneration</c> and <c>…Width</c>.</summary>
    NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width);

    /// <summary><c>nvmlDeviceGetPcieThroughput</c>, KB/s over 20 ms (blocks that long); counter 0 TX, 1 RX.</summary>
    NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond);

    /// <summary><c>nvmlDeviceGetRetiredPages</c> count only; cause 0 multiple single-bit, 1 double-bit. NOT_SUPPORTED on Ampere+.</summary>
    NvmlReturn RetiredPages(nint device, int cause, out uint count);

    /// <summary><c>nvmlDeviceGetEccMode</c>: current and pending mode, 0 disabled, 1 enabled; NOT_SUPPORTED on non-ECC products.</summary>
    NvmlReturn EccMode(nint device, out bool current, out bool pending);

    /// <summary><c>nvmlDeviceGetRetiredPagesPendingStatus</c>.</summary>
    NvmlReturn RetiredPagesPending(nint device, out bool pending);

    /// <summary>
    /// <c>nvmlDeviceGetFieldValues</c>. The caller sets <c>FieldId</c> and <c>ScopeId</c>; every entry's result and
    /// timestamp are pre-set to 999 and 0 first, so an entry NVML leaves unwritten reads as "no data" (580 quirk).
    /// </summary>
    NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values);

    /// <summary>
    /// <c>nvmlDeviceGetComputeRunningProcesses_v3</c> into <paramref name="into"/> (cleared first), retrying on
    /// INSUFFICIENT_SIZE and reading 24- or 32-byte (R535.43–535.86) entries by the stride the driver wrote.
    /// </summary>
    NvmlReturn ComputeProcesses(nint device, List<NvmlProcessInfo> into);

    /// <summary><c>nvmlDeviceGetProcessUtilization</c>: samples newer than <paramref name="lastSeen"/> (CPU µs) into <paramref name="into"/>.</summary>
    NvmlReturn ProcessUtilization(nint device, ulong lastSeen, List<NvmlProcessUtilizationSample> into);

    /// <summary><c>nvmlDeviceGetMigMode</c> current mode: 0 disabled, 1 enabled.</summary>
    NvmlReturn MigMode(nint device, out uint current);

    /// <summary>The MIG devices (compute instances) of a MIG-enabled GPU into <paramref name="into"/> (cleared first).</summary>
    NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into);

    /// <summary><c>nvmlGpmQueryDeviceSupport</c>; FUNCTION_NOT_FOUND when the driver has no GPM symbols.</summary>
    NvmlReturn GpmSupported(nint device, out bool supported);

    /// <summary><c>nvmlGpmSampleAlloc</c>.</summary>
    NvmlReturn GpmSampleAlloc(out nint sample);

    /// <summary><c>nvmlGpmSampleFree</c>.</summary>
    NvmlReturn GpmSampleFree(nint sample);

    /// <summary><c>nvmlGpmSampleGet</c>, or <c>nvmlGpmMigSampleGet</c> for one GPU instance when <paramref name="gpuInstanceId"/> is set.</summary>
    NvmlReturn GpmSample(nint device, uint? gpuInstanceId, nint sample);

    /// <summary>
    /// <c>nvmlGpmMetricsGet</c> between <paramref name="earlier"/> and <paramref name="later"/> for the metric ids in
    /// <paramref name="ids"/>; each metric's own result and value go to <paramref name="results"/> (same length).
    /// </summary>
    NvmlReturn GpmMetrics(nint earlier, nint later, ReadOnlySpan<uint> ids, Span<(NvmlReturn Result, double Value)> results);
}

/// <summary>A MIG device: its handle, GPU and compute instance ids, and its own UUID ("MIG-…").</summary>
internal readonly record struct NvmlMigDevice(nint Handle, uint GpuInstanceId, uint ComputeInstanceId, string Uuid);
