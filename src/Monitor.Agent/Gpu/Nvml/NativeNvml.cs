using System.Text;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary><see cref="INvml"/> over the real library through <see cref="NvmlNative"/>.</summary>
internal sealed unsafe class NativeNvml : INvml
{
    private const int StringBuffer = 96;

    /// <summary><c>nvmlEventTypeXidCriticalError</c>.</summary>
    private const ulong XidCriticalError = 0x8;
    /// <summary>Which optional exports the loaded library has, by <see cref="NvmlExport"/>.</summary>
    private readonly bool[] _has = new bool[(int)NvmlExport.Count];
    private bool _hasGpm;
    private string[] _missing = [];

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

        for (var i = 0; i < _has.Length; i++)
        {
            _has[i] = NvmlLibrary.HasExport(NvmlExports.Names[i]);
        }

        _hasGpm = Has(NvmlExport.GpmQueryDeviceSupport) && Has(NvmlExport.GpmSampleAlloc) && Has(NvmlExport.GpmSampleGet) &&
            Has(NvmlExport.GpmMetricsGet) && Has(NvmlExport.GpmSampleFree);
        var missing = new List<string>();
        for (var i = 0; i < _has.Length; i++)
        {
            var export = (NvmlExport)i;
            if (!_has[i] && !NvmlExports.Alternatives.Any(p => (p.Item1 == export && Has(p.Item2)) || (p.Item2 == export && Has(p.Item1))))
            {
                missing.Add(NvmlExports.Names[i]);
            }
        }

        _missing = [.. missing];
        return true;
    }

    public IReadOnlyList<string> MissingExports => _missing;

    public NvmlReturn DeviceCount(out uint count) => NvmlNative.DeviceGetCount(out count);

    public NvmlReturn DeviceHandle(uint index, out nint device) => NvmlNative.DeviceGetHandleByIndex(index, out device);

    public NvmlReturn Name(nint device, out string name) => ReadString(device, &NvmlNative.DeviceGetName, out name);

    public NvmlReturn Uuid(nint device, out string uuid) => ReadString(device, &NvmlNative.DeviceGetUuid, out uuid);

    public NvmlReturn Utilization(nint device, out NvmlUtilization utilization)
    {
        utilization = default;
        return Has(NvmlExport.DeviceGetUtilizationRates) ? NvmlNative.DeviceGetUtilizationRates(device, out utilization) : NvmlReturn.FunctionNotFound;
    }

    public NvmlReturn Memory(nint device, out ulong total, out ulong used, out ulong free, out ulong? reserved)
    {
        if (Has(NvmlExport.DeviceGetMemoryInfoV2))
        {
            var v2 = new NvmlMemoryV2 { Version = NvmlMemoryV2.StructVersion };
            var result = NvmlNative.DeviceGetMemoryInfoV2(device, ref v2);
            (total, used, free, reserved) = (v2.Total, v2.Used, v2.Free, v2.Reserved);
            return result;
        }

        // Pre-R510: v1 "used" includes the driver's reservation, which v1 cannot separate.
        (total, used, free, reserved) = (0, 0, 0, null);
        if (!Has(NvmlExport.DeviceGetMemoryInfo))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var v1Result = NvmlNative.DeviceGetMemoryInfo(device, out var v1);
        (total, used, free, reserved) = (v1.Total, v1.Used, v1.Free, null);
        return v1Result;
    }

    public NvmlReturn Temperature(nint device, out uint celsius) =>
        Has(NvmlExport.DeviceGetTemperature, out celsius) ? NvmlNative.DeviceGetTemperature(device, 0, out celsius) : NvmlReturn.FunctionNotFound;

    public NvmlReturn PowerUsage(nint device, out uint milliwatts) =>
        Has(NvmlExport.DeviceGetPowerUsage, out milliwatts) ? NvmlNative.DeviceGetPowerUsage(device, out milliwatts) : NvmlReturn.FunctionNotFound;

    public NvmlReturn Energy(nint device, out ulong millijoules) =>
        Has(NvmlExport.DeviceGetTotalEnergyConsumption, out millijoules) ? NvmlNative.DeviceGetTotalEnergyConsumption(device, out millijoules) : NvmlReturn.FunctionNotFound;

    public NvmlReturn Clock(nint device, int clockType, out uint megahertz) =>
        Has(NvmlExport.DeviceGetClockInfo, out megahertz) ? NvmlNative.DeviceGetClockInfo(device, clockType, out megahertz) : NvmlReturn.FunctionNotFound;

    public NvmlReturn MaxClock(nint device, int clockType, out uint megahertz) =>
        Has(NvmlExport.DeviceGetMaxClockInfo, out megahertz) ? NvmlNative.DeviceGetMaxClockInfo(device, clockType, out megahertz) : NvmlReturn.FunctionNotFound;

    public NvmlReturn PerformanceState(nint device, out int state) =>
        Has(NvmlExport.DeviceGetPerformanceState, out state) ? NvmlNative.DeviceGetPerformanceState(device, out state) : NvmlReturn.FunctionNotFound;

    public NvmlReturn ClockEventReasons(nint device, out ulong reasons)
    {
        if (Has(NvmlExport.DeviceGetCurrentClocksEventReasons))
        {
            return NvmlNative.DeviceGetCurrentClocksEventReasons(device, out reasons);
        }

        reasons = 0;
        return Has(NvmlExport.DeviceGetCurrentClocksThrottleReasons) ? NvmlNative.DeviceGetCurrentClocksThrottleReasons(device, out reasons) : NvmlReturn.FunctionNotFound;
    }

    public NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius) =>
        Has(NvmlExport.DeviceGetTemperatureThreshold, out celsius) ? NvmlNative.DeviceGetTemperatureThreshold(device, threshold, out celsius) : NvmlReturn.FunctionNotFound;

    public NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count) =>
        Has(NvmlExport.DeviceGetTotalEccErrors, out count) ? NvmlNative.DeviceGetTotalEccErrors(device, errorType, counterType, out count) : NvmlReturn.FunctionNotFound;

    public NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure)
    {
        (correctable, uncorrectable, pending, failure) = (0, 0, 0, 0);
        return Has(NvmlExport.DeviceGetRemappedRows)
            ? NvmlNative.DeviceGetRemappedRows(device, out correctable, out uncorrectable, out pending, out failure)
            : NvmlReturn.FunctionNotFound;
    }

    public NvmlReturn PcieLink(nint device, out uint generation, out uint width)
    {
        (generation, width) = (0, 0);
        if (!Has(NvmlExport.DeviceGetCurrPcieLinkGeneration) || !Has(NvmlExport.DeviceGetCurrPcieLinkWidth))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var result = NvmlNative.DeviceGetCurrPcieLinkGeneration(device, out generation);
        return result == NvmlReturn.Success ? NvmlNative.DeviceGetCurrPcieLinkWidth(device, out width) : result;
    }

    public NvmlReturn PcieReplays(nint device, out uint count) =>
        Has(NvmlExport.DeviceGetPcieReplayCounter, out count) ? NvmlNative.DeviceGetPcieReplayCounter(device, out count) : NvmlReturn.FunctionNotFound;

    public nint CreateXidEventSet(IReadOnlyList<nint> devices)
    {
        if (!Has(NvmlExport.EventSetCreate) || !Has(NvmlExport.DeviceGetSupportedEventTypes) || !Has(NvmlExport.DeviceRegisterEvents) ||
            !Has(NvmlExport.EventSetWait) || !Has(NvmlExport.EventSetFree))
        {
            return 0;
        }

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

    public NvmlReturn CodecUtilization(nint device, bool decoder, out uint percent) => decoder
        ? Has(NvmlExport.DeviceGetDecoderUtilization, out percent) ? NvmlNative.DeviceGetDecoderUtilization(device, out percent, out _) : NvmlReturn.FunctionNotFound
        : Has(NvmlExport.DeviceGetEncoderUtilization, out percent) ? NvmlNative.DeviceGetEncoderUtilization(device, out percent, out _) : NvmlReturn.FunctionNotFound;

    public NvmlReturn FanSpeed(nint device, out uint percent) =>
        Has(NvmlExport.DeviceGetFanSpeed, out percent) ? NvmlNative.DeviceGetFanSpeed(device, out percent) : NvmlReturn.FunctionNotFound;

    public string ErrorString(NvmlReturn result) => NvmlLibrary.ErrorString(result);

    public NvmlReturn Shutdown() => NvmlNative.Shutdown();

    public NvmlReturn DriverVersion(out string version)
    {
        version = string.Empty;
        if (!Has(NvmlExport.SystemGetDriverVersion))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var buffer = stackalloc byte[80];
        var result = NvmlNative.SystemGetDriverVersion(buffer, 80);
        version = result == NvmlReturn.Success ? Decode(buffer, 80) : string.Empty;
        return result;
    }

    public NvmlReturn Serial(nint device, out string serial) =>
        Has(NvmlExport.DeviceGetSerial, out serial) ? ReadString(device, &NvmlNative.DeviceGetSerial, out serial) : NvmlReturn.FunctionNotFound;

    public NvmlReturn PciBusId(nint device, out string busId)
    {
        busId = string.Empty;
        if (!Has(NvmlExport.DeviceGetPciInfo))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var result = NvmlNative.DeviceGetPciInfo(device, out var pci);
        busId = result == NvmlReturn.Success ? Decode(pci.BusId, 32) : string.Empty;
        return result;
    }

    public NvmlReturn VbiosVersion(nint device, out string version) =>
        Has(NvmlExport.DeviceGetVbiosVersion, out version) ? ReadString(device, &NvmlNative.DeviceGetVbiosVersion, out version) : NvmlReturn.FunctionNotFound;

    public NvmlReturn ComputeCapability(nint device, out int major, out int minor)
    {
        (major, minor) = (0, 0);
        return Has(NvmlExport.DeviceGetCudaComputeCapability) ? NvmlNative.DeviceGetCudaComputeCapability(device, out major, out minor) : NvmlReturn.FunctionNotFound;
    }

    public NvmlReturn PowerLimit(nint device, out uint milliwatts) =>
        Has(NvmlExport.DeviceGetEnforcedPowerLimit, out milliwatts) ? NvmlNative.DeviceGetEnforcedPowerLimit(device, out milliwatts) : NvmlReturn.FunctionNotFound;

    public NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width)
    {
        (generation, width) = (0, 0);
        if (!Has(NvmlExport.DeviceGetMaxPcieLinkGeneration) || !Has(NvmlExport.DeviceGetMaxPcieLinkWidth))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var result = NvmlNative.DeviceGetMaxPcieLinkGeneration(device, out generation);
        width = 0;
        return result == NvmlReturn.Success ? NvmlNative.DeviceGetMaxPcieLinkWidth(device, out width) : result;
    }

    public NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond) =>
        Has(NvmlExport.DeviceGetPcieThroughput, out kilobytesPerSecond) ? NvmlNative.DeviceGetPcieThroughput(device, counter, out kilobytesPerSecond) : NvmlReturn.FunctionNotFound;

    public NvmlReturn RetiredPages(nint device, int cause, out uint count)
    {
        count = 0;
        if (!Has(NvmlExport.DeviceGetRetiredPages))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var result = NvmlNative.DeviceGetRetiredPages(device, cause, ref count, null);

        // A size query with pages present answers INSUFFICIENT_SIZE with the count set: that is the answer.
        return result == NvmlReturn.InsufficientSize ? NvmlReturn.Success : result;
    }

    public NvmlReturn EccMode(nint device, out bool current, out bool pending)
    {
        (current, pending) = (false, false);
        if (!Has(NvmlExport.DeviceGetEccMode))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var result = NvmlNative.DeviceGetEccMode(device, out var c, out var p);
        (current, pending) = (c != 0, p != 0);
        return result;
    }

    public NvmlReturn RetiredPagesPending(nint device, out bool pending)
    {
        pending = false;
        if (!Has(NvmlExport.DeviceGetRetiredPagesPendingStatus))
        {
            return NvmlReturn.FunctionNotFound;
        }

        var result = NvmlNative.DeviceGetRetiredPagesPendingStatus(device, out var value);
        pending = value != 0;
        return result;
    }

    public NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values)
    {
        if (!Has(NvmlExport.DeviceGetFieldValues))
        {
            return NvmlReturn.FunctionNotFound;
        }

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
        if (!Has(NvmlExport.DeviceGetComputeRunningProcesses))
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
        if (!Has(NvmlExport.DeviceGetProcessUtilization))
        {
            return NvmlReturn.FunctionNotFound;
        }

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

    public NvmlReturn MigMode(nint device, out uint current) =>
        Has(NvmlExport.DeviceGetMigMode, out current) ? NvmlNative.DeviceGetMigMode(device, out current, out _) : NvmlReturn.FunctionNotFound;

    public NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into)
    {
        into.Clear();
        if (!Has(NvmlExport.DeviceGetMaxMigDeviceCount) || !Has(NvmlExport.DeviceGetMigDeviceHandleByIndex))
        {
            return NvmlReturn.FunctionNotFound;
        }

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

            var gi = Has(NvmlExport.DeviceGetGpuInstanceId) && NvmlNative.DeviceGetGpuInstanceId(mig, out var g) == NvmlReturn.Success ? g : uint.MaxValue;
            var ci = Has(NvmlExport.DeviceGetComputeInstanceId) && NvmlNative.DeviceGetComputeInstanceId(mig, out var c) == NvmlReturn.Success ? c : uint.MaxValue;
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
        { } gi => _hasGpm && Has(NvmlExport.GpmMigSampleGet) ? NvmlNative.GpmMigSampleGet(device, gi, sample) : NvmlReturn.FunctionNotFound,
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

    private bool Has(NvmlExport export) => _has[(int)export];

    /// <summary><see cref="Has(NvmlExport)"/>, with the out value set to its default for the caller's missing case.</summary>
    private bool Has<T>(NvmlExport export, out T value)
    {
        value = default!;
        return _has[(int)export];
    }

    private bool Has(NvmlExport export, out string value)
    {
        value = string.Empty;
        return _has[(int)export];
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
