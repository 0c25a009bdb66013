using System.Text;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary><see cref="INvml"/> over the real library through <see cref="NvmlNative"/>.</summary>
internal sealed unsafe class NativeNvml : INvml
{
    private const int StringBuffer = 96;

    /// <summary><c>nvmlEventTypeXidCriticalError</c>.</summary>
    private const ulong XidCriticalError = 0x8;
    private bool _hasMemoryV2;
    private bool _hasClocksEventReasons;

    public bool TryInitialize(string path, out string? problem)
    {
        if (!NvmlLibrary.TryLoad(path, out problem))
        {
            return false;
        }

        var result = NvmlNative.Init();
        if (result != NvmlReturn.Success)
        {
            problem = $"nvmlInit_v2 failed: {NvmlLibrary.ErrorString(result)} ({(int)result})";
            return false;
        }

        _hasMemoryV2 = NvmlLibrary.HasExport("nvmlDeviceGetMemoryInfo_v2");
        _hasClocksEventReasons = NvmlLibrary.HasExport("nvmlDeviceGetCurrentClocksEventReasons");
        return true;
    }

    public NvmlReturn DeviceCount(out uint count) => NvmlNative.DeviceGetCount(out count);

    public NvmlReturn DeviceHandle(uint index, out nint device) => NvmlNative.DeviceGetHandleByIndex(index, out device);

    public NvmlReturn Name(nint device, out string name) => ReadString(device, &NvmlNative.DeviceGetName, out name);

    public NvmlReturn Uuid(nint device, out string uuid) => ReadString(device, &NvmlNative.DeviceGetUuid, out uuid);

    public NvmlReturn Utilization(nint device, out NvmlUtilization utilization) => NvmlNative.DeviceGetUtilizationRates(device, out utilization);

    public NvmlReturn Memory(nint device, out ulong total, out ulong used, out ulong free, out ulong? reserved)
    {
        if (_hasMemoryV2)
        {
            var v2 = new NvmlMemoryV2 { Version = NvmlMemoryV2.StructVersion };
            var result = NvmlNative.DeviceGetMemoryInfoV2(device, ref v2);
            (total, used, free, reserved) = (v2.Total, v2.Used, v2.Free, v2.Reserved);
            return result;
        }

        // Pre-R510: v1 "used" includes the driver's reservation, which v1 cannot separate.
        var v1Result = NvmlNative.DeviceGetMemoryInfo(device, out var v1);
        (total, used, free, reserved) = (v1.Total, v1.Used, v1.Free, null);
        return v1Result;
    }

    public NvmlReturn Temperature(nint device, out uint celsius) => NvmlNative.DeviceGetTemperature(device, 0, out celsius);

    public NvmlReturn PowerUsage(nint device, out uint milliwatts) => NvmlNative.DeviceGetPowerUsage(device, out milliwatts);

    public NvmlReturn Energy(nint device, out ulong millijoules) => NvmlNative.DeviceGetTotalEnergyConsumption(device, out millijoules);

    public NvmlReturn Clock(nint device, int clockType, out uint megahertz) => NvmlNative.DeviceGetClockInfo(device, clockType, out megahertz);

    public NvmlReturn MaxClock(nint device, int clockType, out uint megahertz) => NvmlNative.DeviceGetMaxClockInfo(device, clockType, out megahertz);

    public NvmlReturn PerformanceState(nint device, out int state) => NvmlNative.DeviceGetPerformanceState(device, out state);

    public NvmlReturn ClockEventReasons(nint device, out ulong reasons) =>
        _hasClocksEventReasons
            ? NvmlNative.DeviceGetCurrentClocksEventReasons(device, out reasons)
            : NvmlNative.DeviceGetCurrentClocksThrottleReasons(device, out reasons);

    public NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius) =>
        NvmlNative.DeviceGetTemperatureThreshold(device, threshold, out celsius);

    public NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count) =>
        NvmlNative.DeviceGetTotalEccErrors(device, errorType, counterType, out count);

    public NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure) =>
        NvmlNative.DeviceGetRemappedRows(device, out correctable, out uncorrectable, out pending, out failure);

    public NvmlReturn PcieLink(nint device, out uint generation, out uint width)
    {
        var result = NvmlNative.DeviceGetCurrPcieLinkGeneration(device, out generation);
        width = 0;
        return result == NvmlReturn.Success ? NvmlNative.DeviceGetCurrPcieLinkWidth(device, out width) : result;
    }

    public NvmlReturn PcieReplays(nint device, out uint count) => NvmlNative.DeviceGetPcieReplayCounter(device, out count);

    public nint CreateXidEventSet(IReadOnlyList<nint> devices)
    {
        if (NvmlNative.EventSetCreate(out var set) != NvmlReturn.Success)
        {
            return 0;
        }

        var registered = 0;
        foreach (var device in devices)
        {
            // Register only bits the device reports (newer bits on older drivers are rejected).
            if (NvmlNative.DeviceGetSupportedEventTypes(device, out var types) == NvmlReturn.Success && (types & XidCriticalError) != 0 &&
                NvmlNative.DeviceRegisterEvents(device, XidCriticalError, set) == NvmlReturn.Success)
            {
                registered++;
            }
        }

        if (registered == 0)
        {
            _ = NvmlNative.EventSetFree(set);
            return 0;
        }

        return set;
    }

    public NvmlReturn WaitEvent(nint set, uint timeoutMilliseconds, out NvmlEventData data) => NvmlNative.EventSetWait(set, out data, timeoutMilliseconds);

    public NvmlReturn CodecUtilization(nint device, bool decoder, out uint percent) =>
        decoder ? NvmlNative.DeviceGetDecoderUtilization(device, out percent, out _) : NvmlNative.DeviceGetEncoderUtilization(device, out percent, out _);

    public NvmlReturn FanSpeed(nint device, out uint percent) => NvmlNative.DeviceGetFanSpeed(device, out percent);

    public string ErrorString(NvmlReturn result) => NvmlLibrary.ErrorString(result);

    private static NvmlReturn ReadString(nint device, delegate*<nint, byte*, uint, NvmlReturn> call, out string value)
    {
        var buffer = stackalloc byte[StringBuffer];
        var result = call(device, buffer, StringBuffer);
        value = result == NvmlReturn.Success ? Encoding.ASCII.GetString(buffer, new ReadOnlySpan<byte>(buffer, StringBuffer).IndexOf((byte)0) is var n and >= 0 ? n : StringBuffer) : string.Empty;
        return result;
    }
}
