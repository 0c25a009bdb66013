namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// <c>--gpu.simulate N</c>: N H100-like GPUs with plausible, slowly changing values, for demos, dashboards and
/// alert development on machines without a GPU. Values follow a per-GPU phase-shifted wave of load; energy is the
/// integral of power, so <c>rate(gpu_energy_joules_total)</c> equals <c>gpu_power_watts</c>.
/// </summary>
internal sealed class SimulatedNvml(int count, TimeProvider time) : INvml
{
    private const ulong Total = 85520809984UL;
    private const ulong Reserved = 503316480UL;
    private readonly long _start = time.GetTimestamp();
    private readonly Lock _energyLock = new();
    private readonly double[] _energyMillijoules = new double[count];
    private readonly long[] _lastEnergyRead = new long[count];
    private readonly Dictionary<nint, nint> _gpmSampleDevice = [];
    private long _gpmSamples;

    public bool TryInitialize(string path, out string? problem)
    {
        problem = null;
        return true;
    }

    public NvmlReturn DeviceCount(out uint count1)
    {
        count1 = (uint)count;
        return NvmlReturn.Success;
    }

    public NvmlReturn DeviceHandle(uint index, out nint device)
    {
        device = (nint)(index + 1);
        return index < count ? NvmlReturn.Success : NvmlReturn.InvalidArgument;
    }

    public NvmlReturn Name(nint device, out string name)
    {
        name = "NVIDIA H100 80GB HBM3 (simulated)";
        return NvmlReturn.Success;
    }

    public NvmlReturn Uuid(nint device, out string uuid)
    {
        uuid = $"GPU-5131d000-0000-4000-8000-{device - 1:D12}";
        return NvmlReturn.Success;
    }

    public NvmlReturn Utilization(nint device, out NvmlUtilization utilization)
    {
        var load = Load(device);
        utilization = new NvmlUtilization { Gpu = (uint)Math.Round(load * 100), Memory = (uint)Math.Round(load * 60) };
        return NvmlReturn.Success;
    }

    public NvmlReturn Memory(nint device, out ulong total, out ulong used, out ulong free, out ulong? reserved)
    {
        total = Total;
        reserved = Reserved;
        used = (ulong)(Load(device) * 0.9 * (Total - Reserved));
        free = Total - Reserved - used;
        return NvmlReturn.Success;
    }

    public NvmlReturn Temperature(nint device, out uint celsius)
    {
        celsius = (uint)Math.Round(35 + (Load(device) * 40));
        return NvmlReturn.Success;
    }

    public NvmlReturn PowerUsage(nint device, out uint milliwatts)
    {
        milliwatts = Power(device);
        return NvmlReturn.Success;
    }

    public NvmlReturn Energy(nint device, out ulong millijoules)
    {
        var i = (int)device - 1;
        var now = time.GetTimestamp();
        lock (_energyLock)
        {
            var since = _lastEnergyRead[i] == 0 ? 0 : time.GetElapsedTime(_lastEnergyRead[i], now).TotalSeconds;
            _energyMillijoules[i] += Power(device) * since;
            _lastEnergyRead[i] = now;
            millijoules = (ulong)_energyMillijoules[i];
        }

        return NvmlReturn.Success;
    }

    public NvmlReturn Clock(nint device, int clockType, out uint megahertz)
    {
        megahertz = clockType switch
        {
            0 or 1 => (uint)Math.Round(345 + (Load(device) * 1635)),
            2 => 2619,
            _ => (uint)Math.Round(765 + (Load(device) * 945)),
        };
        return NvmlReturn.Success;
    }

    public NvmlReturn MaxClock(nint device, int clockType, out uint megahertz)
    {
        megahertz = clockType switch { 0 or 1 => 1980, 2 => 2619, _ => 1710 };
        return NvmlReturn.Success;
    }

    public NvmlReturn PerformanceState(nint device, out int state)
    {
        state = Load(device) > 0.05 ? 0 : 8;
        return NvmlReturn.Success;
    }

    public NvmlReturn ClockEventReasons(nint device, out ulong reasons)
    {
        // Idle below 5 % load; at the power cap (normal under full load) above 95 %.
        var load = Load(device);
        reasons = load < 0.05 ? 0x1UL : load > 0.95 ? 0x4UL : 0;
        return NvmlReturn.Success;
    }

    public NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius)
    {
        celsius = threshold == 0 ? 95u : 89u;
        return NvmlReturn.Success;
    }

    public NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count1)
    {
        count1 = 0;
        return NvmlReturn.Success;
    }

    public NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure)
    {
        (correctable, uncorrectable, pending, failure) = (0, 0, 0, 0);
        return NvmlReturn.Success;
    }

    public NvmlReturn PcieLink(nint device, out uint generation, out uint width)
    {
        (generation, width) = (5, 16);
        return NvmlReturn.Success;
    }

    public NvmlReturn PcieReplays(nint device, out uint count1)
    {
        count1 = 0;
        return NvmlReturn.Success;
    }

    public nint CreateXidEventSet(IReadOnlyList<nint> devices) => 0;

    public NvmlReturn WaitEvent(nint set, uint timeoutMilliseconds, out NvmlEventData data)
    {
        data = default;
        return NvmlReturn.Timeout;
    }

    public NvmlReturn CodecUtilization(nint device, bool decoder, out uint percent)
    {
        percent = 0;
        return NvmlReturn.Success;
    }

    public NvmlReturn FanSpeed(nint device, out uint percent)
    {
        // Like an H100: the board has no fans of its own.
        percent = 0;
        return NvmlReturn.NotSupported;
    }

    public NvmlReturn Shutdown() => NvmlReturn.Success;

    public NvmlReturn DriverVersion(out string version)
    {
        version = "580.159.04";
        return NvmlReturn.Success;
    }

    public NvmlReturn Serial(nint device, out string serial)
    {
        serial = $"165432{device - 1:D7}";
        return NvmlReturn.Success;
    }

    public NvmlReturn PciBusId(nint device, out string busId)
    {
        busId = $"00000000:{0x18 + (int)device:X2}:00.0";
        return NvmlReturn.Success;
    }

    public NvmlReturn VbiosVersion(nint device, out string version)
    {
        version = "96.00.74.00.01";
        return NvmlReturn.Success;
    }

    public NvmlReturn ComputeCapability(nint device, out int major, out int minor)
    {
        (major, minor) = (9, 0);
        return NvmlReturn.Success;
    }

    public NvmlReturn PowerLimit(nint device, out uint milliwatts)
    {
        milliwatts = 700_000;
        return NvmlReturn.Success;
    }

    public NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width)
    {
        (generation, width) = (5, 16);
        return NvmlReturn.Success;
    }

    public NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond)
    {
        kilobytesPerSecond = (uint)Math.Round(Load(device) * (counter == 0 ? 2_000_000 : 8_000_000));
        return NvmlReturn.Success;
    }

    public NvmlReturn RetiredPages(nint device, int cause, out uint count1)
    {
        // Like an H100: row remapping replaces page retirement.
        count1 = 0;
        return NvmlReturn.NotSupported;
    }

    public NvmlReturn EccMode(nint device, out bool current, out bool pending)
    {
        (current, pending) = (true, true);
        return NvmlReturn.Success;
    }

    public NvmlReturn RetiredPagesPending(nint device, out bool pending)
    {
        pending = false;
        return NvmlReturn.NotSupported;
    }

    public NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values)
    {
        var load = Load(device);
        for (var i = 0; i < values.Length; i++)
        {
            ref var field = ref values[i];
            field.Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
            field.NvmlReturn = (int)NvmlReturn.Success;
            field.ValueType = 1;
            switch (field.FieldId)
            {
                case NvmlFields.MemoryTemperature:
                    field.Value.UInt = (uint)Math.Round(40 + (load * 30));
                    break;
                case NvmlFields.RecoveryAction:
                    field.Value.UInt = 0;
                    break;
                default:
                    // Like a PCIe H100: no NVLink.
                    field.NvmlReturn = (int)NvmlReturn.NotSupported;
                    break;
            }
        }

        return NvmlReturn.Success;
    }

    public NvmlReturn ComputeProcesses(nint device, List<NvmlProcessInfo> into)
    {
        // One training process per GPU holding the memory the GPU reports as used.
        into.Clear();
        _ = Memory(device, out _, out var used, out _, out _);
        into.Add(new NvmlProcessInfo { Pid = 40000 + (uint)device, UsedGpuMemory = used, GpuInstanceId = uint.MaxValue, ComputeInstanceId = uint.MaxValue });
        return NvmlReturn.Success;
    }

    public NvmlReturn ProcessUtilization(nint device, ulong lastSeen, List<NvmlProcessUtilizationSample> into)
    {
        into.Clear();
        var load = Load(device);
        into.Add(new NvmlProcessUtilizationSample
        {
            Pid = 40000 + (uint)device,
            TimeStamp = (ulong)time.GetUtcNow().ToUnixTimeMilliseconds() * 1000,
            SmUtil = (uint)Math.Round(load * 100),
            MemUtil = (uint)Math.Round(load * 60),
        });
        return NvmlReturn.Success;
    }

    public NvmlReturn MigMode(nint device, out uint current)
    {
        current = 0;
        return NvmlReturn.Success;
    }

    public NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into)
    {
        into.Clear();
        return NvmlReturn.Success;
    }

    /// <summary>Every simulated GPU is an H100: GPM supported.</summary>
    public NvmlReturn GpmSupported(nint device, out bool supported)
    {
        supported = true;
        return NvmlReturn.Success;
    }

    public NvmlReturn GpmSampleAlloc(out nint sample)
    {
        sample = (nint)Interlocked.Increment(ref _gpmSamples);
        return NvmlReturn.Success;
    }

    public NvmlReturn GpmSampleFree(nint sample) => NvmlReturn.Success;

    public NvmlReturn GpmSample(nint device, uint? gpuInstanceId, nint sample)
    {
        lock (_energyLock)
        {
            _gpmSampleDevice[sample] = device;
        }

        return NvmlReturn.Success;
    }

    /// <summary>
    /// Plausible profiling values for a bf16 training load scaled by the GPU's current load (the H100 measurement
    /// in reference nvml.md: graphics 100, SM 96.6, occupancy 14.3, tensor 93.8, DRAM 24.1 % at full load).
    /// </summary>
    public NvmlReturn GpmMetrics(nint earlier, nint later, ReadOnlySpan<uint> ids, Span<(NvmlReturn Result, double Value)> results)
    {
        nint device;
        lock (_energyLock)
        {
            device = _gpmSampleDevice.GetValueOrDefault(later, 1);
        }

        var load = Load(device);
        for (var i = 0; i < ids.Length; i++)
        {
            double? value = ids[i] switch
            {
                NvmlGpm.GraphicsUtil => load * 100,
                NvmlGpm.SmUtil => load * 96.6,
                NvmlGpm.SmOccupancy => load * 14.3,
                NvmlGpm.AnyTensorUtil => load * 93.8,
                NvmlGpm.DramBandwidthUtil => load * 24.1,
                NvmlGpm.Fp32Util => load * 2.0,
                NvmlGpm.Fp16Util or NvmlGpm.Fp64Util or NvmlGpm.IntegerUtil => 0,
                NvmlGpm.PcieTransmit => load * 5.5,
                NvmlGpm.PcieReceive => load * 16.2,
                _ => null,
            };
            results[i] = value is { } v ? (NvmlReturn.Success, v) : (NvmlReturn.NotSupported, double.NaN);
        }

        return NvmlReturn.Success;
    }

    public string ErrorString(NvmlReturn result) => result.ToString();

    /// <summary>0–1: a ten-minute wave, shifted per GPU so the fleet is not in lockstep.</summary>
    private double Load(nint device)
    {
        var seconds = time.GetElapsedTime(_start).TotalSeconds;
        return 0.5 + (0.5 * Math.Sin((seconds / 600 * 2 * Math.PI) + ((int)device * 0.7)));
    }

    private uint Power(nint device) => (uint)Math.Round(70_000 + (Load(device) * 630_000));
}
