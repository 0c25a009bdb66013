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
    private bool _hasThrottleReasons;
    private bool _hasProcessesV3;
    private bool _hasGpm;
    private bool _hasGpmMig;

    [ThreadStatic]
    private static byte[]? _gpmBuffer;

    // Per thread: each GPU is sampled on its own thread.
    [ThreadStatic]
    private static byte[]? _processBuffer;

    [ThreadStatic]
    private static NvmlProcessUtilizationSample[]? _utilizationBuffer;

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
        _hasThrottleReasons = NvmlLibrary.HasExport("nvmlDeviceGetCurrentClocksThrottleReasons");
        _hasProcessesV3 = NvmlLibrary.HasExport("nvmlDeviceGetComputeRunningProcesses_v3");
        _hasGpm = NvmlLibrary.HasExport("nvmlGpmQueryDeviceSupport") && NvmlLibrary.HasExport("nvmlGpmSampleAlloc") &&
            NvmlLibrary.HasExport("nvmlGpmSampleGet") && NvmlLibrary.HasExport("nvmlGpmMetricsGet") && NvmlLibrary.HasExport("nvmlGpmSampleFree");
        _hasGpmMig = _hasGpm && NvmlLibrary.HasExport("nvmlGpmMigSampleGet");
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

    public NvmlReturn ClockEventReasons(nint device, out ulong reasons)
    {
        if (_hasClocksEventReasons)
        {
            return NvmlNative.DeviceGetCurrentClocksEventReasons(device, out reasons);
        }

        reasons = 0;
        return _hasThrottleReasons ? NvmlNative.DeviceGetCurrentClocksThrottleReasons(device, out reasons) : NvmlReturn.FunctionNotFound;
    }

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

    public NvmlReturn Shutdown() => NvmlNative.Shutdown();

    public NvmlReturn DriverVersion(out string version)
    {
        var buffer = stackalloc byte[80];
        var result = NvmlNative.SystemGetDriverVersion(buffer, 80);
        version = result == NvmlReturn.Success ? Decode(buffer, 80) : string.Empty;
        return result;
    }

    public NvmlReturn Serial(nint device, out string serial) => ReadString(device, &NvmlNative.DeviceGetSerial, out serial);

    public NvmlReturn PciBusId(nint device, out string busId)
    {
        var result = NvmlNative.DeviceGetPciInfo(device, out var pci);
        busId = result == NvmlReturn.Success ? Decode(pci.BusId, 32) : string.Empty;
        return result;
    }

    public NvmlReturn VbiosVersion(nint device, out string version) => ReadString(device, &NvmlNative.DeviceGetVbiosVersion, out version);

    public NvmlReturn ComputeCapability(nint device, out int major, out int minor) => NvmlNative.DeviceGetCudaComputeCapability(device, out major, out minor);

    public NvmlReturn PowerLimit(nint device, out uint milliwatts) => NvmlNative.DeviceGetEnforcedPowerLimit(device, out milliwatts);

    public NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width)
    {
        var result = NvmlNative.DeviceGetMaxPcieLinkGeneration(device, out generation);
        width = 0;
        return result == NvmlReturn.Success ? NvmlNative.DeviceGetMaxPcieLinkWidth(device, out width) : result;
    }

    public NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond) =>
        NvmlNative.DeviceGetPcieThroughput(device, counter, out kilobytesPerSecond);

    public NvmlReturn RetiredPages(nint device, int cause, out uint count)
    {
        count = 0;
        var result = NvmlNative.DeviceGetRetiredPages(device, cause, ref count, null);

        // A size query with pages present answers INSUFFICIENT_SIZE with the count set: that is the answer.
        return result == NvmlReturn.InsufficientSize ? NvmlReturn.Success : result;
    }

    public NvmlReturn EccMode(nint device, out bool current, out bool pending)
    {
        var result = NvmlNative.DeviceGetEccMode(device, out var c, out var p);
        (current, pending) = (c != 0, p != 0);
        return result;
    }

    public NvmlReturn RetiredPagesPending(nint device, out bool pending)
    {
        var result = NvmlNative.DeviceGetRetiredPagesPendingStatus(device, out var value);
        pending = value != 0;
        return result;
    }

    public NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i].NvmlReturn = (int)NvmlReturn.Unknown;
            values[i].Timestamp = 0;
        }

        fixed (NvmlFieldValue* pointer = values)
        {
            return NvmlNative.DeviceGetFieldValues(device, values.Length, pointer);
        }
    }

    public NvmlReturn ComputeProcesses(nint device, List<NvmlProcessInfo> into)
    {
        into.Clear();
        if (!_hasProcessesV3)
        {
            // Pre-R510 drivers: the _v3 entry point (and its struct) does not exist.
            return NvmlReturn.FunctionNotFound;
        }

        _processBuffer ??= new byte[16 * NvmlProcessList.MaxStride];
        var result = NvmlReturn.InsufficientSize;

        // Processes can start between the calls; three tries with headroom, then report the size error.
        for (var attempt = 0; attempt < 3 && result == NvmlReturn.InsufficientSize; attempt++)
        {
            var capacity = (uint)(_processBuffer.Length / NvmlProcessList.MaxStride);
            var count = capacity;
            _processBuffer.AsSpan().Fill(NvmlProcessList.Sentinel);
            fixed (byte* buffer = _processBuffer)
            {
                result = NvmlNative.DeviceGetComputeRunningProcesses(device, ref count, buffer);
            }

            if (result == NvmlReturn.Success)
            {
                NvmlProcessList.Parse(_processBuffer, count, into);
            }
            else if (result == NvmlReturn.InsufficientSize)
            {
                _processBuffer = new byte[(int)Math.Max(count * 2, capacity * 2) * NvmlProcessList.MaxStride];
            }
        }

        return result;
    }

    public NvmlReturn ProcessUtilization(nint device, ulong lastSeen, List<NvmlProcessUtilizationSample> into)
    {
        into.Clear();
        _utilizationBuffer ??= new NvmlProcessUtilizationSample[8];
        var count = (uint)_utilizationBuffer.Length;
        NvmlReturn result;
        fixed (NvmlProcessUtilizationSample* buffer = _utilizationBuffer)
        {
            result = NvmlNative.DeviceGetProcessUtilization(device, buffer, ref count, lastSeen);
        }

        if (result == NvmlReturn.InsufficientSize)
        {
            // The driver answers with its sample-buffer size (72 on the H100): allocate that once and ask again.
            _utilizationBuffer = new NvmlProcessUtilizationSample[Math.Max(count, (uint)_utilizationBuffer.Length * 2)];
            count = (uint)_utilizationBuffer.Length;
            fixed (NvmlProcessUtilizationSample* buffer = _utilizationBuffer)
            {
                result = NvmlNative.DeviceGetProcessUtilization(device, buffer, ref count, lastSeen);
            }
        }

        if (result == NvmlReturn.Success)
        {
            into.AddRange(_utilizationBuffer.AsSpan(0, (int)Math.Min(count, (uint)_utilizationBuffer.Length)));
        }

        return result;
    }

    public NvmlReturn MigMode(nint device, out uint current) => NvmlNative.DeviceGetMigMode(device, out current, out _);

    public NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into)
    {
        into.Clear();
        var result = NvmlNative.DeviceGetMaxMigDeviceCount(device, out var max);
        if (result != NvmlReturn.Success)
        {
            return result;
        }

        for (var i = 0u; i < max; i++)
        {
            // NOT_FOUND: an empty slot.
            if (NvmlNative.DeviceGetMigDeviceHandleByIndex(device, i, out var mig) != NvmlReturn.Success)
            {
                continue;
            }

            var gi = NvmlNative.DeviceGetGpuInstanceId(mig, out var g) == NvmlReturn.Success ? g : uint.MaxValue;
            var ci = NvmlNative.DeviceGetComputeInstanceId(mig, out var c) == NvmlReturn.Success ? c : uint.MaxValue;
            _ = Uuid(mig, out var uuid);
            into.Add(new NvmlMigDevice(mig, gi, ci, uuid));
        }

        return NvmlReturn.Success;
    }

    public NvmlReturn GpmSupported(nint device, out bool supported)
    {
        supported = false;
        if (!_hasGpm)
        {
            return NvmlReturn.FunctionNotFound;
        }

        var support = new NvmlGpmSupport { Version = 1 };
        var result = NvmlNative.GpmQueryDeviceSupport(device, ref support);
        supported = result == NvmlReturn.Success && support.IsSupportedDevice != 0;
        return result;
    }

    public NvmlReturn GpmSampleAlloc(out nint sample)
    {
        sample = 0;
        return _hasGpm ? NvmlNative.GpmSampleAlloc(out sample) : NvmlReturn.FunctionNotFound;
    }

    public NvmlReturn GpmSampleFree(nint sample) => _hasGpm ? NvmlNative.GpmSampleFree(sample) : NvmlReturn.FunctionNotFound;

    public NvmlReturn GpmSample(nint device, uint? gpuInstanceId, nint sample) => gpuInstanceId switch
    {
        null => _hasGpm ? NvmlNative.GpmSampleGet(device, sample) : NvmlReturn.FunctionNotFound,
        { } gi => _hasGpmMig ? NvmlNative.GpmMigSampleGet(device, gi, sample) : NvmlReturn.FunctionNotFound,
    };

    public NvmlReturn GpmMetrics(nint earlier, nint later, ReadOnlySpan<uint> ids, Span<(NvmlReturn Result, double Value)> results)
    {
        if (!_hasGpm)
        {
            return NvmlReturn.FunctionNotFound;
        }

        if (ids.Length > NvmlGpm.MetricMax || results.Length < ids.Length)
        {
            return NvmlReturn.InvalidArgument;
        }

        // The whole 13.3-sized struct, zeroed: the header, then one 40-byte nvmlGpmMetric_t per requested id.
        _gpmBuffer ??= new byte[NvmlGpm.MetricsGetSize];
        Array.Clear(_gpmBuffer);
        fixed (byte* buffer = _gpmBuffer)
        {
            *(NvmlGpmMetricsGetHeader*)buffer = new NvmlGpmMetricsGetHeader { Version = 1, NumMetrics = (uint)ids.Length, Sample1 = earlier, Sample2 = later };
            var metrics = (NvmlGpmMetric*)(buffer + NvmlGpm.MetricsOffset);
            for (var i = 0; i < ids.Length; i++)
            {
                // A metric NVML leaves unwritten keeps UNKNOWN rather than reading as a successful 0.
                metrics[i].MetricId = ids[i];
                metrics[i].NvmlReturn = (int)NvmlReturn.Unknown;
            }

            var result = NvmlNative.GpmMetricsGet(buffer);
            for (var i = 0; i < ids.Length; i++)
            {
                // Name pointers belong to NVML: read nothing from them, free nothing.
                results[i] = result == NvmlReturn.Success ? ((NvmlReturn)metrics[i].NvmlReturn, metrics[i].Value) : (result, double.NaN);
            }

            return result;
        }
    }

    private static string Decode(byte* buffer, int length) =>
        Encoding.ASCII.GetString(buffer, new ReadOnlySpan<byte>(buffer, length).IndexOf((byte)0) is var n and >= 0 ? n : length);

    private static NvmlReturn ReadString(nint device, delegate*<nint, byte*, uint, NvmlReturn> call, out string value)
    {
        var buffer = stackalloc byte[StringBuffer];
        var result = call(device, buffer, StringBuffer);
        value = result == NvmlReturn.Success ? Decode(buffer, StringBuffer) : string.Empty;
        return result;
    }
}
