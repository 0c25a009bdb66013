using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Monitor.Agent.Gpu.Nvml;

/// <summary>
/// <c>--gpu.simulate N</c>: N H100-like GPUs with plausible, slowly changing values, for demos, dashboards and
/// alert development on machines without a GPU. It is also the tests' only managed NVML: each GPU
/// (<see cref="Gpus"/>) can be held at a fixed load and given faults, and every call is counted.
/// </summary>
/// <remarks>
/// The model, from a GPU's load L (0–1; by default a ten-minute wave, phase-shifted per GPU):
/// utilization round(100 L) %, memory utilization round(60 L) %, memory used ⌊0.9 L × (80 GiB-class total − reserved)⌋,
/// temperature round(35 + 40 L) °C, memory temperature round(40 + 30 L) °C, power round(70 + 630 L) W (mW exact),
/// graphics and SM clocks round(345 + 1635 L) MHz, video round(765 + 945 L) MHz, memory 2619 MHz, P0 above 5 % load
/// (P8 below), PCIe TX/RX round(L × 2,000,000 / 8,000,000) KB/s, one process (pid 40001 + i) holding the used memory
/// at round(100 L) % SM and round(60 L) % memory, and GPM at L × the H100 bf16 training profile in reference nvml.md.
/// Energy is the integral of power, so <c>rate(gpu_energy_joules_total)</c> equals <c>gpu_power_watts</c>.
/// XIDs arrive only when raised (<see cref="RaiseXid"/>).
/// </remarks>
internal sealed class SimulatedNvml : INvml
{
    private const ulong Total = 85520809984UL;
    private const ulong Reserved = 503316480UL;
    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly SimulatedGpu[] _gpus;
    private readonly Lock _energyLock = new();
    private readonly double[] _energyMillijoules;
    private readonly long[] _lastEnergyRead;
    private readonly Dictionary<nint, nint> _gpmSampleDevice = [];
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, int> _fieldRequests = new();
    private readonly Queue<NvmlEventData> _xids = new();
    private long _gpmSamples;

    public SimulatedNvml(int count, TimeProvider time)
    {
        _time = time;
        _start = time.GetTimestamp();
        _gpus = [.. Enumerable.Range(0, count).Select(i => new SimulatedGpu(i))];
        _energyMillijoules = new double[count];
        _lastEnergyRead = new long[count];
    }

    /// <summary>The simulated GPUs, by index.</summary>
    public IReadOnlyList<SimulatedGpu> Gpus => _gpus;

    /// <summary>Not null: initialization fails with this reason (no driver, say).</summary>
    public string? InitProblem { get; set; }

    /// <summary>Not SUCCESS: the device count and every device call answer this (driver reloaded, version mismatch).</summary>
    public NvmlReturn SessionResult { get; set; } = NvmlReturn.Success;

    /// <summary>How many times <paramref name="call"/> (an <see cref="INvml"/> method name) was made, on any GPU.</summary>
    public int Calls(string call) => _calls.GetValueOrDefault(call);

    /// <summary>How many times field <paramref name="fieldId"/> was asked for in <c>nvmlDeviceGetFieldValues</c>, on any GPU.</summary>
    public int FieldRequests(uint fieldId) => _fieldRequests.GetValueOrDefault(fieldId);

    /// <summary>GPU <paramref name="gpu"/> reports XID <paramref name="xid"/> through the event set.</summary>
    public void RaiseXid(int gpu, ulong xid)
    {
        lock (_xids)
        {
            _xids.Enqueue(new NvmlEventData { Device = _gpus[gpu].Handle, EventType = 0x8, EventData = xid });
            System.Threading.Monitor.Pulse(_xids);
        }
    }

    /// <summary>Moves GPU <paramref name="gpu"/>'s energy counter by <paramref name="joules"/>, as a counter that drifts from the integral.</summary>
    public void AdjustEnergy(int gpu, double joules)
    {
        lock (_energyLock)
        {
            _energyMillijoules[gpu] += joules * 1000;
        }
    }

    public bool TryInitialize(string path, out string? problem)
    {
        Count();
        problem = InitProblem;
        return problem is null;
    }

    public NvmlReturn DeviceCount(out uint count)
    {
        Count();
        count = (uint)_gpus.Length;
        return SessionResult;
    }

    public NvmlReturn DeviceHandle(uint index, out nint device)
    {
        device = (nint)(index + 1);
        return index < _gpus.Length ? NvmlReturn.Success : NvmlReturn.InvalidArgument;
    }

    public NvmlReturn Name(nint device, out string name)
    {
        name = "NVIDIA H100 80GB HBM3 (simulated)";
        return Identity(device);
    }

    public NvmlReturn Uuid(nint device, out string uuid)
    {
        uuid = Gpu(device).Uuid;
        return Identity(device);
    }

    public NvmlReturn Utilization(nint device, out NvmlUtilization utilization)
    {
        var load = Load(device);
        utilization = new NvmlUtilization { Gpu = (uint)Math.Round(load * 100), Memory = (uint)Math.Round(load * 60) };
        return Reading(device);
    }

    public NvmlReturn Memory(nint device, out ulong total, out ulong used, out ulong free, out ulong? reserved)
    {
        total = Total;
        reserved = Reserved;
        used = (ulong)(Load(device) * 0.9 * (Total - Reserved));
        free = Total - Reserved - used;
        return Reading(device);
    }

    public NvmlReturn Temperature(nint device, out uint celsius)
    {
        celsius = (uint)Math.Round(35 + (Load(device) * 40));
        return Reading(device);
    }

    public NvmlReturn PowerUsage(nint device, out uint milliwatts)
    {
        milliwatts = Power(device);
        return Reading(device);
    }

    public NvmlReturn Energy(nint device, out ulong millijoules)
    {
        var i = (int)device - 1;
        var now = _time.GetTimestamp();
        lock (_energyLock)
        {
            var since = _lastEnergyRead[i] == 0 ? 0 : _time.GetElapsedTime(_lastEnergyRead[i], now).TotalSeconds;
            _energyMillijoules[i] += Power(device) * since;
            _lastEnergyRead[i] = now;
            millijoules = (ulong)_energyMillijoules[i];
        }

        return Reading(device);
    }

    public NvmlReturn Clock(nint device, int clockType, out uint megahertz)
    {
        megahertz = clockType switch
        {
            0 or 1 => (uint)Math.Round(345 + (Load(device) * 1635)),
            2 => 2619,
            _ => (uint)Math.Round(765 + (Load(device) * 945)),
        };
        return Reading(device);
    }

    public NvmlReturn MaxClock(nint device, int clockType, out uint megahertz)
    {
        megahertz = clockType switch { 0 or 1 => 1980, 2 => 2619, _ => 1710 };
        return Reading(device);
    }

    public NvmlReturn PerformanceState(nint device, out int state)
    {
        state = Load(device) > 0.05 ? 0 : 8;
        return Reading(device);
    }

    public NvmlReturn ClockEventReasons(nint device, out ulong reasons)
    {
        // Idle below 5 % load; at the power cap (normal under full load) above 95 %.
        var load = Load(device);
        reasons = Gpu(device).ClockEventReasons ?? (load < 0.05 ? 0x1UL : load > 0.95 ? 0x4UL : 0);
        return Reading(device);
    }

    public NvmlReturn TemperatureThreshold(nint device, int threshold, out uint celsius)
    {
        celsius = threshold == 0 ? 95u : 89u;
        return Reading(device);
    }

    public NvmlReturn EccErrors(nint device, int errorType, int counterType, out ulong count)
    {
        count = errorType == 0 ? Gpu(device).EccCorrected : Gpu(device).EccUncorrected;
        return Reading(device);
    }

    public NvmlReturn RemappedRows(nint device, out uint correctable, out uint uncorrectable, out uint pending, out uint failure)
    {
        (correctable, uncorrectable, pending, failure) = Gpu(device).RemappedRows;
        return Reading(device);
    }

    public NvmlReturn PcieLink(nint device, out uint generation, out uint width)
    {
        (generation, width) = Gpu(device).PcieLink;
        return Reading(device);
    }

    public NvmlReturn PcieReplays(nint device, out uint count)
    {
        count = Gpu(device).PcieReplays;
        return Reading(device);
    }

    /// <summary>Every simulated GPU supports XID events.</summary>
    public nint CreateXidEventSet(IReadOnlyList<nint> devices) => devices.Count > 0 ? 1 : 0;

    public NvmlReturn WaitEvent(nint set, uint timeoutMilliseconds, out NvmlEventData data)
    {
        lock (_xids)
        {
            if (_xids.Count == 0)
            {
                System.Threading.Monitor.Wait(_xids, (int)Math.Min(timeoutMilliseconds, int.MaxValue));
            }

            return _xids.TryDequeue(out data) ? NvmlReturn.Success : NvmlReturn.Timeout;
        }
    }

    public NvmlReturn CodecUtilization(nint device, bool decoder, out uint percent)
    {
        percent = 0;
        return Reading(device);
    }

    public NvmlReturn FanSpeed(nint device, out uint percent)
    {
        // Like an H100: the board has no fans of its own.
        percent = 0;
        var result = Reading(device);
        return result == NvmlReturn.Success ? NvmlReturn.NotSupported : result;
    }

    public NvmlReturn Shutdown()
    {
        Count();
        return NvmlReturn.Success;
    }

    public NvmlReturn DriverVersion(out string version)
    {
        version = "580.159.04";
        return NvmlReturn.Success;
    }

    public NvmlReturn Serial(nint device, out string serial)
    {
        serial = $"165432{device - 1:D7}";
        return Identity(device);
    }

    public NvmlReturn PciBusId(nint device, out string busId)
    {
        busId = $"00000000:{0x18 + (int)device:X2}:00.0";
        return Identity(device);
    }

    public NvmlReturn VbiosVersion(nint device, out string version)
    {
        version = "96.00.74.00.01";
        return Identity(device);
    }

    public NvmlReturn ComputeCapability(nint device, out int major, out int minor)
    {
        (major, minor) = (9, 0);
        return Identity(device);
    }

    public NvmlReturn PowerLimit(nint device, out uint milliwatts)
    {
        milliwatts = 700_000;
        return Reading(device);
    }

    public NvmlReturn MaxPcieLink(nint device, out uint generation, out uint width)
    {
        (generation, width) = (5, 16);
        return Reading(device);
    }

    public NvmlReturn PcieThroughput(nint device, int counter, out uint kilobytesPerSecond)
    {
        kilobytesPerSecond = (uint)Math.Round(Load(device) * (counter == 0 ? 2_000_000 : 8_000_000));
        return Reading(device);
    }

    public NvmlReturn RetiredPages(nint device, int cause, out uint count)
    {
        // Like an H100: row remapping replaces page retirement.
        count = 0;
        var result = Reading(device);
        return result == NvmlReturn.Success ? NvmlReturn.NotSupported : result;
    }

    public NvmlReturn EccMode(nint device, out bool current, out bool pending)
    {
        (current, pending) = Gpu(device).EccMode;
        return Reading(device);
    }

    public NvmlReturn RetiredPagesPending(nint device, out bool pending)
    {
        pending = false;
        var result = Reading(device);
        return result == NvmlReturn.Success ? NvmlReturn.NotSupported : result;
    }

    public NvmlReturn FieldValues(nint device, Span<NvmlFieldValue> values)
    {
        var result = Reading(device);
        if (result != NvmlReturn.Success)
        {
            return result;
        }

        var load = Load(device);
        for (var i = 0; i < values.Length; i++)
        {
            ref var field = ref values[i];
            _fieldRequests.AddOrUpdate(field.FieldId, 1, static (_, n) => n + 1);
            field.Timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
            field.NvmlReturn = (int)NvmlReturn.Success;
            field.ValueType = 1;
            switch (field.FieldId)
            {
                case NvmlFields.MemoryTemperature:
                    field.Value.UInt = (uint)Math.Round(40 + (load * 30));
                    break;
                case NvmlFields.RecoveryAction:
                    field.Value.UInt = Gpu(device).RecoveryAction;
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
        var used = (ulong)(Load(device) * 0.9 * (Total - Reserved));
        into.Add(new NvmlProcessInfo { Pid = 40000 + (uint)device, UsedGpuMemory = used, GpuInstanceId = uint.MaxValue, ComputeInstanceId = uint.MaxValue });
        return Reading(device);
    }

    public NvmlReturn ProcessUtilization(nint device, ulong lastSeen, List<NvmlProcessUtilizationSample> into)
    {
        into.Clear();
        var load = Load(device);
        into.Add(new NvmlProcessUtilizationSample
        {
            Pid = 40000 + (uint)device,
            TimeStamp = (ulong)_time.GetUtcNow().ToUnixTimeMilliseconds() * 1000,
            SmUtil = (uint)Math.Round(load * 100),
            MemUtil = (uint)Math.Round(load * 60),
        });
        return Reading(device);
    }

    public NvmlReturn MigMode(nint device, out uint current)
    {
        current = 0;
        return Reading(device);
    }

    public NvmlReturn MigDevices(nint device, List<NvmlMigDevice> into)
    {
        into.Clear();
        return Reading(device);
    }

    public NvmlReturn GpmSupported(nint device, out bool supported)
    {
        supported = Gpu(device).GpmSupported;
        return Reading(device);
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

        return Reading(device);
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
        var failures = Gpu(device).GpmFailures;
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
            results[i] = value is { } v && !failures.ContainsKey(ids[i]) ? (NvmlReturn.Success, v) : (NvmlReturn.NotSupported, double.NaN);
        }

        return NvmlReturn.Success;
    }

    public string ErrorString(NvmlReturn result) => result.ToString();

    private SimulatedGpu Gpu(nint device) => _gpus[(int)device - 1];

    /// <summary>An identity call: counted, and failing only when the whole session does or the GPU is told to.</summary>
    private NvmlReturn Identity(nint device, [CallerMemberName] string call = "") => Answer(device, call, reading: false);

    /// <summary>A reading: as <see cref="Identity"/>, and GPU_IS_LOST once the GPU is lost.</summary>
    private NvmlReturn Reading(nint device, [CallerMemberName] string call = "") => Answer(device, call, reading: true);

    private NvmlReturn Answer(nint device, string call, bool reading)
    {
        Count(call);
        var gpu = Gpu(device);
        if (gpu.Hang is { } hang && hang.Call == call)
        {
            hang.Release.Wait();
        }

        if (gpu.Throws == call)
        {
            throw new EntryPointNotFoundException($"Unable to find an entry point for {call} (simulated)");
        }

        return SessionResult != NvmlReturn.Success ? SessionResult
            : reading && gpu.Lost ? NvmlReturn.GpuIsLost
            : gpu.Results.TryGetValue(call, out var result) ? result
            : NvmlReturn.Success;
    }

    private void Count([CallerMemberName] string call = "") => _calls.AddOrUpdate(call, 1, static (_, n) => n + 1);

    /// <summary>The GPU's fixed load, or 0–1 on a ten-minute wave, shifted per GPU so the fleet is not in lockstep.</summary>
    private double Load(nint device)
    {
        if (Gpu(device).Load is { } load)
        {
            return load;
        }

        var seconds = _time.GetElapsedTime(_start).TotalSeconds;
        return 0.5 + (0.5 * Math.Sin((seconds / 600 * 2 * Math.PI) + ((int)device * 0.7)));
    }

    private uint Power(nint device) => (uint)Math.Round(70_000 + (Load(device) * 630_000));
}
