using System.Globalization;
using Monitor.Agent.Gpu.Nvml;
using Monitor.Agent.Threading;

namespace Monitor.Agent.Gpu;

/// <summary>
/// Samples one GPU on a thread of its own, so a call that hangs on a broken GPU holds only this device: the
/// collector stops waiting for it after its timeout and the other GPUs keep reporting. Not the thread pool: a pool
/// busy with scrapes (or starved) would delay a healthy GPU past its timeout. The thread exits after a minute
/// without work and is started again on demand. The sampler owns its working sample; when a tick ends it copies
/// it to the published one under a lock.
/// </summary>
/// <remarks>
/// NOT_SUPPORTED is remembered per device and call (NVML takes ~130 µs to say no) and never asked again.
/// GPU_IS_LOST marks only this device. UNINITIALIZED, DRIVER_NOT_LOADED and LIB_RM_VERSION_MISMATCH mean the NVML
/// session is gone: <see cref="SessionError"/> tells the collector to re-initialize.
/// </remarks>
internal sealed class GpuDeviceSampler
{

    /// <summary>Values read at the slow cadence (static or expensive), kept between slow reads.</summary>
    private static readonly bool[] Slow = SlowValues();

    private readonly INvml _nvml;
    private readonly TimeProvider _time;
    private readonly GpuSamplerOptions _options;
    private readonly GpuSample _work = new();
    private readonly GpuSample _published = new();
    private readonly Lock _publishLock = new();
    private readonly IsolatedCall _call;
    private readonly bool[] _unsupported = new bool[(int)GpuValue.Count + (int)Extra.Count];
    private readonly HashSet<uint> _unsupportedFields = [];
    private readonly List<NvmlProcessInfo> _processes = [];
    private readonly List<NvmlProcessUtilizationSample> _processUtilization = [];
    private readonly Dictionary<uint, (double Sm, double Memory)> _utilizationByPid = [];
    private readonly List<NvmlMigDevice> _migDevices = [];
    private NvmlFieldValue[] _fields = [];
    private long _nextSlow = long.MinValue;
    private ulong _lastProcessSample;

    // Energy: the last real read (J) and the trapezoidal power integral since, so the counter moves every second
    // though the 4 ms energy call runs only at the slow cadence (reference nvml.md §9).
    private double _energyAnchor = double.NaN;
    private double _energyIntegral;
    private double _energyExported = double.NaN;
    private double _lastPower = double.NaN;
    private long _lastPowerTime;
    private readonly string _driverVersion;
    private readonly Dictionary<uint, GpmPair> _gpmPairs = [];
    private readonly (NvmlReturn Result, double Value)[] _gpmResults = new (NvmlReturn, double)[GpmMetrics.Ids.Length];
    private bool _gpmSupported;
    private long _nextGpm = long.MinValue;
    private bool _identified;
    private bool _lost;
    private int _sessionError;

    public GpuDeviceSampler(INvml nvml, TimeProvider time, GpuSamplerOptions options, int index, nint handle, string driverVersion)
    {
        _nvml = nvml;
        _time = time;
        _options = options;
        _driverVersion = driverVersion;
        Index = index;
        IndexLabel = index.ToString(CultureInfo.InvariantCulture);
        Handle = handle;
        _call = new IsolatedCall(Execute, $"nvml-gpu{index}") { Persistent = true, StackSize = 256 * 1024 };
    }

    /// <summary>Calls that are not a <see cref="GpuValue"/> of their own.</summary>
    private enum Extra
    {
        /// <summary>nvmlDeviceGetFieldValues as a whole.</summary>
        FieldValues = (int)GpuValue.Count,

        /// <summary>Compute processes.</summary>
        Processes,

        /// <summary>Per-process utilization.</summary>
        ProcessUtilization,

        /// <summary>MIG device enumeration.</summary>
        MigDevices,

        /// <summary>Utilization on MIG devices.</summary>
        MigUtilization,

        /// <summary>GPM sampling and derivation.</summary>
        Gpm,

        /// <summary>End marker.</summary>
        Count = Gpm - FieldValues + 1,
    }

    public int Index { get; }

    /// <summary>The index as a label value.</summary>
    public string IndexLabel { get; }

    public nint Handle { get; }

    /// <summary>Read by the first tick (empty until then), so a GPU that hangs from the start cannot hold up the others.</summary>
    public string Uuid { get; private set; } = string.Empty;

    /// <summary>The product name, read by the first tick.</summary>
    public string Name { get; private set; } = string.Empty;

    /// <summary>Identity for <c>gpu_info</c>, read by the first tick.</summary>
    public GpuIdentity Identity { get; private set; } = GpuIdentity.Empty;

    /// <summary>True while a tick is running (or hung).</summary>
    public bool Busy => _call.IsInFlight;

    /// <summary>Set when a call said the NVML session is gone (uninitialized, driver unloaded, version mismatch).</summary>
    public NvmlReturn? SessionError => Volatile.Read(ref _sessionError) is var e and not 0 ? (NvmlReturn)e : null;

    /// <summary>The last published state the collector compares against to log node events.</summary>
    public GpuEventState Events { get; } = new();

    /// <summary>Whether the collector has logged this device as lost (so it logs once per loss).</summary>
    public bool ReportedLost { get; set; }

    /// <summary>True after this device missed a tick's deadline, until a tick completes again.</summary>
    public bool Stalled { get; set; }

    /// <summary>Starts one tick on the device's thread (an <see cref="IsolatedCall"/> kept between ticks); <see cref="Wait"/> for it.</summary>
    public void Start() => _call.Start();

    /// <summary>Waits for the running tick up to <paramref name="timeout"/>; false when it is still running.</summary>
    public bool Wait(TimeSpan timeout) => _call.Wait(timeout, CancellationToken.None);

    /// <summary>Copies the latest complete sample into <paramref name="target"/>.</summary>
    public void CopyPublished(GpuSample target)
    {
        lock (_publishLock)
        {
            _published.CopyTo(target);
        }
    }

    /// <summary>One tick on the calling thread: sample, then publish. An exception is kept by the <see cref="IsolatedCall"/>.</summary>
    internal void Execute()
    {
        Sample();
        lock (_publishLock)
        {
            _work.CopyTo(_published);
        }
    }

    /// <summary>The exception the last finished tick failed with, or null (the thread never dies of it).</summary>
    public Exception? Error => _call.IsInFlight ? null : _call.Fault;

    /// <summary>Whether the collector has logged the current failure streak.</summary>
    public bool ReportedError { get; set; }

    /// <summary>Whether the collector has logged that the GPU cannot be identified.</summary>
    public bool ReportedIdentify { get; set; }

    private void Sample()
    {
        var now = _time.GetTimestamp();
        var slow = now >= _nextSlow;
        if (slow)
        {
            _nextSlow = now + (long)(_options.SlowInterval.TotalSeconds * _time.TimestampFrequency);
        }

        var v = _work.Values;
        for (var i = 0; i < (int)GpuValue.Gpm; i++)
        {
            // GPM values (the tail of the array) keep their interval's values until the next interval completes.
            if (slow || !Slow[i])
            {
                v[i] = double.NaN;
            }
        }

        _lost = false;
        _work.Timestamp = now;
        if (!_identified)
        {
            Identify();
        }

        SampleFast(v, now);
        if (slow && Continue)
        {
            SampleSlow(v, now);
        }

        if (Continue)
        {
            SampleFields(v);
        }

        if (Continue && _options.Processes)
        {
            SampleProcesses();
        }
        else
        {
            _work.Processes.Clear();
        }

        if (Continue)
        {
            SampleMig(slow);
        }

        if (Continue && _gpmSupported && Can((GpuValue)Extra.Gpm) && now >= _nextGpm)
        {
            _nextGpm = now + (long)(_options.Gpm.TotalSeconds * _time.TimestampFrequency);
            SampleGpm(v);
        }

        UpdateEnergy(v);
        _work.Lost = _lost;
    }

    private void Identify()
    {
        Name = _nvml.Name(Handle, out var name) == NvmlReturn.Success ? name : string.Empty;
        var bus = _nvml.PciBusId(Handle, out var b) == NvmlReturn.Success ? b : string.Empty;
        var serial = _nvml.Serial(Handle, out var s) == NvmlReturn.Success ? s : string.Empty;
        var vbios = _nvml.VbiosVersion(Handle, out var v) == NvmlReturn.Success ? v : string.Empty;
        var capability = _nvml.ComputeCapability(Handle, out var major, out var minor) == NvmlReturn.Success
            ? string.Create(CultureInfo.InvariantCulture, $"{major}.{minor}")
            : string.Empty;
        _gpmSupported = _nvml.GpmSupported(Handle, out var gpm) == NvmlReturn.Success && gpm;
        Identity = new GpuIdentity(bus, serial, _driverVersion, vbios, capability, _gpmSupported ? "supported" : "unsupported");

        // The UUID last: it names the series, so it appears together with the rest of the identity.
        var result = _nvml.Uuid(Handle, out var uuid);
        Uuid = result == NvmlReturn.Success ? uuid : string.Empty;
        _identified = result == NvmlReturn.Success;
        IdentifyResult = result;
        _ = Flag(result);
    }

    /// <summary>What <c>nvmlDeviceGetUUID</c> last answered while the GPU was not identified yet (Success once it is).</summary>
    public NvmlReturn IdentifyResult { get; private set; } = NvmlReturn.Success;

    private bool Continue => !_lost && _sessionError == 0;

    private void SampleFast(double[] v, long now)
    {
        if (Can(GpuValue.Utilization) && Ok(GpuValue.Utilization, _nvml.Utilization(Handle, out var utilization)))
        {
            v[(int)GpuValue.Utilization] = utilization.Gpu / 100.0;
            v[(int)GpuValue.MemoryUtilization] = utilization.Memory / 100.0;
        }

        if (Can(GpuValue.MemoryTotal) && Ok(GpuValue.MemoryTotal, _nvml.Memory(Handle, out var total, out var used, out var free, out var reserved)))
        {
            v[(int)GpuValue.MemoryTotal] = total;
            v[(int)GpuValue.MemoryUsed] = used;
            v[(int)GpuValue.MemoryFree] = free;
            v[(int)GpuValue.MemoryReserved] = reserved is { } r ? r : double.NaN;
        }

        if (Can(GpuValue.Temperature) && Ok(GpuValue.Temperature, _nvml.Temperature(Handle, out var celsius)))
        {
            v[(int)GpuValue.Temperature] = celsius;
        }

        if (Can(GpuValue.Power) && Ok(GpuValue.Power, _nvml.PowerUsage(Handle, out var milliwatts)))
        {
            v[(int)GpuValue.Power] = milliwatts / 1000.0;
            Integrate(milliwatts / 1000.0, now);
        }

        if (Can(GpuValue.PowerLimit) && Ok(GpuValue.PowerLimit, _nvml.PowerLimit(Handle, out var limit)))
        {
            v[(int)GpuValue.PowerLimit] = limit / 1000.0;
        }

        for (var type = 0; type < 4; type++)
        {
            var key = GpuValue.Clock + type;
            if (Can(key) && Ok(key, _nvml.Clock(Handle, type, out var mhz)))
            {
                v[(int)key] = mhz;
            }
        }

        if (Can(GpuValue.PerformanceState) && Ok(GpuValue.PerformanceState, _nvml.PerformanceState(Handle, out var pstate)) && pstate is >= 0 and <= 15)
        {
            v[(int)GpuValue.PerformanceState] = pstate;
        }

        if (Can(GpuValue.ClockEventReasons) && Ok(GpuValue.ClockEventReasons, _nvml.ClockEventReasons(Handle, out var reasons)))
        {
            v[(int)GpuValue.ClockEventReasons] = reasons;
        }

        for (var i = 0; i < 4; i++)
        {
            // Volatile and aggregate ECC totals cost under 1 µs each: read every tick so a burst shows at once.
            var key = GpuValue.Ecc + i;
            if (Can(key) && Ok(key, _nvml.EccErrors(Handle, i / 2, i % 2, out var count)))
            {
                v[(int)key] = count;
            }
        }

        if (Can(GpuValue.RemappedCorrectable) &&
            Ok(GpuValue.RemappedCorrectable, _nvml.RemappedRows(Handle, out var correctable, out var uncorrectable, out var pending, out var failure)))
        {
            v[(int)GpuValue.RemappedCorrectable] = correctable;
            v[(int)GpuValue.RemappedUncorrectable] = uncorrectable;
            v[(int)GpuValue.RemapPending] = pending != 0 ? 1 : 0;
            v[(int)GpuValue.RemapFailure] = failure != 0 ? 1 : 0;
        }

        if (Can(GpuValue.Encoder) && Ok(GpuValue.Encoder, _nvml.CodecUtilization(Handle, decoder: false, out var encoder)))
        {
            v[(int)GpuValue.Encoder] = encoder / 100.0;
        }

        if (Can(GpuValue.Decoder) && Ok(GpuValue.Decoder, _nvml.CodecUtilization(Handle, decoder: true, out var decoder)))
        {
            v[(int)GpuValue.Decoder] = decoder / 100.0;
        }

        if (Can(GpuValue.Fan) && Ok(GpuValue.Fan, _nvml.FanSpeed(Handle, out var fan)))
        {
            v[(int)GpuValue.Fan] = fan / 100.0;
        }
    }

    /// <summary>Static or expensive values: max clocks (1.4 ms each), thresholds, PCIe link and replays (135 µs), energy (4 ms), opt-in PCIe throughput (20 ms each).</summary>
    private void SampleSlow(double[] v, long now)
    {
        for (var type = 0; type < 4; type++)
        {
            var key = GpuValue.MaxClock + type;
            if (Can(key) && Ok(key, _nvml.MaxClock(Handle, type, out var mhz)))
            {
                v[(int)key] = mhz;
            }
        }

        if (Can(GpuValue.SlowdownThreshold) && Ok(GpuValue.SlowdownThreshold, _nvml.TemperatureThreshold(Handle, 1, out var slowdown)))
        {
            v[(int)GpuValue.SlowdownThreshold] = slowdown;
        }

        if (Can(GpuValue.ShutdownThreshold) && Ok(GpuValue.ShutdownThreshold, _nvml.TemperatureThreshold(Handle, 0, out var shutdown)))
        {
            v[(int)GpuValue.ShutdownThreshold] = shutdown;
        }

        for (var cause = 0; cause < 2; cause++)
        {
            var key = GpuValue.RetiredPages + cause;
            if (Can(key) && Ok(key, _nvml.RetiredPages(Handle, cause, out var pages)))
            {
                v[(int)key] = pages;
            }
        }

        if (Can(GpuValue.EccMode) && Ok(GpuValue.EccMode, _nvml.EccMode(Handle, out var eccCurrent, out var eccPending)))
        {
            v[(int)GpuValue.EccMode] = eccCurrent ? 1 : 0;
            v[(int)GpuValue.EccMode + 1] = eccPending ? 1 : 0;
        }

        if (Can(GpuValue.RetiredPagesPending) && Ok(GpuValue.RetiredPagesPending, _nvml.RetiredPagesPending(Handle, out var retirePending)))
        {
            v[(int)GpuValue.RetiredPagesPending] = retirePending ? 1 : 0;
        }

        if (Can(GpuValue.PcieGeneration) && Ok(GpuValue.PcieGeneration, _nvml.PcieLink(Handle, out var generation, out var width)))
        {
            v[(int)GpuValue.PcieGeneration] = generation;
            v[(int)GpuValue.PcieWidth] = width;
        }

        if (Can(GpuValue.PcieMaxGeneration) && Ok(GpuValue.PcieMaxGeneration, _nvml.MaxPcieLink(Handle, out var maxGeneration, out var maxWidth)))
        {
            v[(int)GpuValue.PcieMaxGeneration] = maxGeneration;
            v[(int)GpuValue.PcieMaxWidth] = maxWidth;
        }

        if (Can(GpuValue.PcieReplays) && Ok(GpuValue.PcieReplays, _nvml.PcieReplays(Handle, out var replays)))
        {
            v[(int)GpuValue.PcieReplays] = replays;
        }

        if (_options.PcieThroughput)
        {
            if (Can(GpuValue.PcieTransmit) && Ok(GpuValue.PcieTransmit, _nvml.PcieThroughput(Handle, 0, out var tx)))
            {
                v[(int)GpuValue.PcieTransmit] = tx * 1000.0;
            }

            if (Can(GpuValue.PcieReceive) && Ok(GpuValue.PcieReceive, _nvml.PcieThroughput(Handle, 1, out var rx)))
            {
                v[(int)GpuValue.PcieReceive] = rx * 1000.0;
            }
        }

        if (Can(GpuValue.MigMode) && Ok(GpuValue.MigMode, _nvml.MigMode(Handle, out var mig)))
        {
            v[(int)GpuValue.MigMode] = mig;
        }

        if (Can(GpuValue.Energy) && Ok(GpuValue.Energy, _nvml.Energy(Handle, out var millijoules)))
        {
            Anchor(millijoules / 1000.0, now);
        }

        if (Can(GpuValue.NvLinkCount))
        {
            ReadLinkCount(v);
        }
    }

    /// <summary>NVLink's link count (field 91) at the slow cadence; it sizes the per-tick field batch.</summary>
    private void ReadLinkCount(double[] v)
    {
        Span<NvmlFieldValue> count = [new NvmlFieldValue { FieldId = NvmlFields.NvLinkCount }];
        if (!Can((GpuValue)Extra.FieldValues) || !Ok((GpuValue)Extra.FieldValues, _nvml.FieldValues(Handle, count)))
        {
            return;
        }

        switch (FieldResult(count[0], out var links))
        {
            case NvmlReturn.Success:
                v[(int)GpuValue.NvLinkCount] = links;
                break;
            case NvmlReturn.NotSupported:
                _unsupported[(int)GpuValue.NvLinkCount] = true;
                break;
        }

        BuildFieldBatch(double.IsNaN(v[(int)GpuValue.NvLinkCount]) ? 0 : (int)v[(int)GpuValue.NvLinkCount]);
    }

    /// <summary>
    /// One field-values batch per tick: memory temperature, the recovery action and, with NVLink, throughput, error
    /// totals and the state of every link. A field NVML calls NOT_SUPPORTED is dropped from later batches; an entry
    /// still holding the 999/0 sentinels was left unwritten (580 quirk) and reads as "no data this tick".
    /// </summary>
    private void SampleFields(double[] v)
    {
        if (_fields.Length == 0 && _unsupportedFields.Count == 0)
        {
            BuildFieldBatch(0);
        }

        if (_fields.Length == 0 || !Can((GpuValue)Extra.FieldValues) || !Ok((GpuValue)Extra.FieldValues, _nvml.FieldValues(Handle, _fields)))
        {
            _work.NvLinkUp.Clear();
            return;
        }

        var rebuild = false;
        _work.NvLinkUp.Clear();
        foreach (ref readonly var field in _fields.AsSpan())
        {
            var result = FieldResult(field, out var value);
            if (result == NvmlReturn.NotSupported)
            {
                rebuild |= _unsupportedFields.Add(field.FieldId);
                continue;
            }

            var ok = result == NvmlReturn.Success;
            switch (field.FieldId)
            {
                case NvmlFields.MemoryTemperature when ok:
                    v[(int)GpuValue.MemoryTemperature] = value;
                    break;
                case NvmlFields.RecoveryAction when ok:
                    v[(int)GpuValue.RecoveryAction] = value;
                    break;
                case NvmlFields.NvLinkTransmitKib when ok:
                    v[(int)GpuValue.NvLinkTransmit] = value * 1024;
                    break;
                case NvmlFields.NvLinkReceiveKib when ok:
                    v[(int)GpuValue.NvLinkReceive] = value * 1024;
                    break;
                case NvmlFields.NvLinkCrcFlitErrors when ok:
                    v[(int)GpuValue.NvLinkErrors] = value;
                    break;
                case NvmlFields.NvLinkCrcDataErrors when ok:
                    v[(int)GpuValue.NvLinkErrors + 1] = value;
                    break;
                case NvmlFields.NvLinkReplayErrors when ok:
                    v[(int)GpuValue.NvLinkErrors + 2] = value;
                    break;
                case NvmlFields.NvLinkRecoveryErrors when ok:
                    v[(int)GpuValue.NvLinkErrors + 3] = value;
                    break;
                case NvmlFields.NvLinkState:
                    _work.NvLinkUp.Add(ok ? (value != 0 ? 1 : 0) : double.NaN);
                    break;
            }
        }

        if (rebuild)
        {
            BuildFieldBatch(double.IsNaN(v[(int)GpuValue.NvLinkCount]) ? 0 : (int)v[(int)GpuValue.NvLinkCount]);
        }
    }

    private void BuildFieldBatch(int links)
    {
        var batch = new List<NvmlFieldValue>();
        void Add(uint id, uint scope = 0)
        {
            if (!_unsupportedFields.Contains(id))
            {
                batch.Add(new NvmlFieldValue { FieldId = id, ScopeId = scope });
            }
        }

        Add(NvmlFields.MemoryTemperature);
        Add(NvmlFields.RecoveryAction);
        if (links > 0)
        {
            Add(NvmlFields.NvLinkTransmitKib, NvmlFields.AllLinks);
            Add(NvmlFields.NvLinkReceiveKib, NvmlFields.AllLinks);
            Add(NvmlFields.NvLinkCrcFlitErrors);
            Add(NvmlFields.NvLinkCrcDataErrors);
            Add(NvmlFields.NvLinkReplayErrors);
            Add(NvmlFields.NvLinkRecoveryErrors);
            for (var link = 0u; link < links && link < 64; link++)
            {
                Add(NvmlFields.NvLinkState, link);
            }
        }

        _fields = [.. batch];
    }

    /// <summary>The entry's own result (Unknown when NVML left it unwritten) and its value as a double.</summary>
    private static NvmlReturn FieldResult(in NvmlFieldValue field, out double value)
    {
        value = field.ValueType switch
        {
            0 => field.Value.Double,
            1 => field.Value.UInt,
            2 or 3 => field.Value.ULong,
            4 => field.Value.SLong,
            5 => field.Value.SInt,
            6 => field.Value.UShort,
            _ => double.NaN,
        };
        if (field.NvmlReturn == (int)NvmlReturn.Unknown && field.Timestamp == 0)
        {
            return NvmlReturn.Unknown;
        }

        return (NvmlReturn)field.NvmlReturn == NvmlReturn.Success && double.IsNaN(value) ? NvmlReturn.Unknown : (NvmlReturn)field.NvmlReturn;
    }

    /// <summary>Compute processes with their memory, and their SM and memory utilization since the last tick.</summary>
    private void SampleProcesses()
    {
        _work.Processes.Clear();
        if (!Can((GpuValue)Extra.Processes) || !Ok((GpuValue)Extra.Processes, _nvml.ComputeProcesses(Handle, _processes)))
        {
            return;
        }

        var haveUtilization = false;
        _utilizationByPid.Clear();
        if (_processes.Count > 0 && Can((GpuValue)Extra.ProcessUtilization))
        {
            var result = _nvml.ProcessUtilization(Handle, _lastProcessSample, _processUtilization);

            // NOT_FOUND: no sample since the last read, i.e. nothing ran.
            haveUtilization = result == NvmlReturn.NotFound || Ok((GpuValue)Extra.ProcessUtilization, result);
            foreach (var sample in _processUtilization)
            {
                _lastProcessSample = Math.Max(_lastProcessSample, sample.TimeStamp);
                var (sm, memory) = _utilizationByPid.GetValueOrDefault(sample.Pid);
                _utilizationByPid[sample.Pid] = (Math.Max(sm, sample.SmUtil / 100.0), Math.Max(memory, sample.MemUtil / 100.0));
            }
        }

        foreach (var process in _processes)
        {
            var (sm, memory) = _utilizationByPid.TryGetValue(process.Pid, out var u) ? u : haveUtilization ? (0, 0) : (double.NaN, double.NaN);
            var bytes = process.UsedGpuMemory == ulong.MaxValue ? double.NaN : process.UsedGpuMemory;
            _work.Processes.Add(new GpuProcessSample(process.Pid, bytes, sm, memory, process.GpuInstanceId, process.ComputeInstanceId));
        }
    }

    /// <summary>MIG devices are listed at the slow cadence; their memory (and utilization, where offered) every tick.</summary>
    private void SampleMig(bool slow)
    {
        var enabled = _work[GpuValue.MigMode] == 1;
        if (slow)
        {
            _migDevices.Clear();
            if (enabled && Can((GpuValue)Extra.MigDevices))
            {
                _ = Ok((GpuValue)Extra.MigDevices, _nvml.MigDevices(Handle, _migDevices));
            }
        }

        _work.Mig.Clear();
        if (!enabled)
        {
            return;
        }

        foreach (var mig in _migDevices)
        {
            var memory = _nvml.Memory(mig.Handle, out var total, out var used, out var free, out _) == NvmlReturn.Success;
            var utilization = double.NaN;
            if (Can((GpuValue)Extra.MigUtilization))
            {
                var result = _nvml.Utilization(mig.Handle, out var u);
                if (result == NvmlReturn.Success)
                {
                    utilization = u.Gpu / 100.0;
                }
                else if (result == NvmlReturn.NotSupported)
                {
                    _unsupported[(int)Extra.MigUtilization] = true;
                }
            }

            _work.Mig.Add(new GpuMigSample(
                mig.GpuInstanceId, mig.ComputeInstanceId, mig.Uuid, memory ? total : double.NaN, memory ? used : double.NaN, memory ? free : double.NaN, utilization));
        }
    }

    /// <summary>
    /// One GPM sample per interval (the whole GPU, or each MIG GPU instance), and the metrics between it and the
    /// previous one; the two sample buffers then swap. Nothing is exported until two samples exist. A metric whose own
    /// result is not SUCCESS is left out.
    /// </summary>
    private void SampleGpm(double[] v)
    {
        if (_work[GpuValue.MigMode] == 1)
        {
            v.AsSpan((int)GpuValue.Gpm, GpmMetrics.Ids.Length).Fill(double.NaN);
            _work.GpmMig.Clear();
            foreach (var gi in _migDevices.Select(m => m.GpuInstanceId).Distinct())
            {
                var values = new double[GpmMetrics.Ids.Length];
                if (SampleGpmInterval(gi, values) is not null)
                {
                    _work.GpmMig.Add(new GpuGpmMigSample(gi, values));
                }
            }

            return;
        }

        _work.GpmMig.Clear();
        if (SampleGpmInterval(null, v.AsSpan((int)GpuValue.Gpm, GpmMetrics.Ids.Length)) is { } seconds)
        {
            // Counters that only rise: busy vs productive time, exact whatever the scrape interval.
            Accumulate(v, GpuValue.TensorActiveSeconds, v[(int)GpuValue.Gpm + 3], seconds);
            Accumulate(v, GpuValue.SmActiveSeconds, v[(int)GpuValue.Gpm + 1], seconds);
        }
    }

    private static void Accumulate(double[] v, GpuValue counter, double ratio, double seconds)
    {
        if (double.IsNaN(ratio))
        {
            return;
        }

        v[(int)counter] = (double.IsNaN(v[(int)counter]) ? 0 : v[(int)counter]) + (ratio * seconds);
    }

    /// <summary>The interval's length in seconds when metrics were derived; null otherwise.</summary>
    private double? SampleGpmInterval(uint? gpuInstance, Span<double> values)
    {
        values.Fill(double.NaN);
        var key = gpuInstance ?? uint.MaxValue;
        if (!_gpmPairs.TryGetValue(key, out var pair))
        {
            if (!Ok((GpuValue)Extra.Gpm, _nvml.GpmSampleAlloc(out var first)) || !Ok((GpuValue)Extra.Gpm, _nvml.GpmSampleAlloc(out var second)))
            {
                return null;
            }

            pair = new GpmPair(first, second);
            _gpmPairs[key] = pair;
        }

        var now = _time.GetTimestamp();
        if (!Ok((GpuValue)Extra.Gpm, _nvml.GpmSample(Handle, gpuInstance, pair.Current)))
        {
            pair.HavePrevious = false;
            return null;
        }

        var derived = pair.HavePrevious &&
            Ok((GpuValue)Extra.Gpm, _nvml.GpmMetrics(pair.Previous, pair.Current, GpmMetrics.Ids, _gpmResults));
        if (derived)
        {
            for (var i = 0; i < _gpmResults.Length; i++)
            {
                if (_gpmResults[i].Result == NvmlReturn.Success && double.IsFinite(_gpmResults[i].Value))
                {
                    values[i] = _gpmResults[i].Value * GpmMetrics.Scale(i);
                }
            }
        }

        var seconds = (now - pair.PreviousTime) / (double)_time.TimestampFrequency;
        pair.Swap();
        pair.HavePrevious = true;
        pair.PreviousTime = now;
        return derived ? seconds : null;
    }

    private void Integrate(double watts, long now)
    {
        if (!double.IsNaN(_lastPower))
        {
            var seconds = (now - _lastPowerTime) / (double)_time.TimestampFrequency;
            _energyIntegral += (watts + _lastPower) / 2 * seconds;
        }

        _lastPower = watts;
        _lastPowerTime = now;
    }

    private void Anchor(double joules, long now)
    {
        // A smaller reading than the last anchor is a driver reload: the counter really reset.
        if (double.IsNaN(_energyAnchor) || joules < _energyAnchor)
        {
            _energyExported = joules;
        }

        _energyAnchor = joules;
        _energyIntegral = 0;
        _lastPowerTime = now;
    }

    private void UpdateEnergy(double[] v)
    {
        if (double.IsNaN(_energyAnchor) || _lost)
        {
            return;
        }

        // Never backwards: when the integral ran ahead of the next real read, hold until the counter catches up.
        _energyExported = Math.Max(_energyExported, _energyAnchor + _energyIntegral);
        v[(int)GpuValue.Energy] = _energyExported;
    }

    private bool Can(GpuValue call) => !_unsupported[(int)call] && Continue;

    /// <summary>True when the value may be used; remembers NOT_SUPPORTED, flags a lost GPU or a lost session.</summary>
    private bool Ok(GpuValue call, NvmlReturn result)
    {
        if (result is NvmlReturn.NotSupported or NvmlReturn.FunctionNotFound)
        {
            // FUNCTION_NOT_FOUND: the driver predates the entry point; as final as NOT_SUPPORTED.
            _unsupported[(int)call] = true;
            return false;
        }

        return Flag(result);
    }

    /// <summary>True on success; flags a lost GPU or a lost session.</summary>
    private bool Flag(NvmlReturn result)
    {
        switch (result)
        {
            case NvmlReturn.Success:
                return true;
            case NvmlReturn.GpuIsLost:
                _lost = true;
                return false;
            case NvmlReturn.Uninitialized or NvmlReturn.DriverNotLoaded or NvmlReturn.LibRmVersionMismatch:
                Volatile.Write(ref _sessionError, (int)result);
                return false;
            default:
                return false;
        }
    }

    private static bool[] SlowValues()
    {
        var slow = new bool[(int)GpuValue.Count];
        GpuValue[] values =
        [
            GpuValue.MaxClock, GpuValue.MaxClock + 1, GpuValue.MaxClock + 2, GpuValue.MaxClock + 3, GpuValue.SlowdownThreshold, GpuValue.ShutdownThreshold,
            GpuValue.EccMode, GpuValue.EccMode + 1, GpuValue.RetiredPages, GpuValue.RetiredPages + 1, GpuValue.RetiredPagesPending, GpuValue.PcieGeneration, GpuValue.PcieWidth,
            GpuValue.PcieMaxGeneration, GpuValue.PcieMaxWidth, GpuValue.PcieReplays, GpuValue.PcieTransmit, GpuValue.PcieReceive, GpuValue.MigMode,
            GpuValue.NvLinkCount, GpuValue.Energy,
        ];
        foreach (var value in values)
        {
            slow[(int)value] = true;
        }

        return slow;
    }
}

/// <summary>What the sampler reads beyond the defaults.</summary>
/// <param name="SlowInterval">Cadence of the static and expensive values.</param>
/// <param name="PcieThroughput">Read PCIe throughput (20 ms per direction) at the slow cadence.</param>
/// <param name="Processes">Read compute processes and their utilization every tick.</param>
/// <param name="GpmInterval">GPM profiling interval (Hopper+): one sample per interval, metrics derived between the last two.</param>
internal sealed record GpuSamplerOptions(TimeSpan SlowInterval, bool PcieThroughput, bool Processes, TimeSpan? GpmInterval = null)
{
    /// <summary>The GPM interval, 10 s unless set.</summary>
    public TimeSpan Gpm => GpmInterval ?? TimeSpan.FromSeconds(10);
}

/// <summary>What <c>gpu_info</c> carries besides index, uuid and name; empty strings where NVML has no answer.</summary>
/// <param name="Gpm">"supported" or "unsupported" (pre-Hopper GPU, or a driver without the GPM calls).</param>
internal sealed record GpuIdentity(string PciBusId, string Serial, string DriverVersion, string VbiosVersion, string ComputeCapability, string Gpm)
{
    /// <summary>Nothing known.</summary>
    public static GpuIdentity Empty { get; } = new(string.Empty, string.Empty, string.Empty, string.Empty, string.Empty, string.Empty);
}

/// <summary>The two GPM sample buffers of one interval: the previous sample and the one taken now.</summary>
internal sealed class GpmPair(nint previous, nint current)
{
    public nint Previous { get; private set; } = previous;

    public nint Current { get; private set; } = current;

    /// <summary>Whether <see cref="Previous"/> holds a sample.</summary>
    public bool HavePrevious { get; set; }

    /// <summary>When <see cref="Previous"/> was taken (TimeProvider timestamp).</summary>
    public long PreviousTime { get; set; }

    /// <summary>The sample just taken becomes the previous one; the old previous buffer is reused.</summary>
    public void Swap() => (Previous, Current) = (Current, Previous);
}

/// <summary>A GPU's last reported state, for the transition events (written on the collector's thread only).</summary>
internal sealed class GpuEventState
{
    /// <summary>Whether a healthy sample has been seen (the first one sets the baseline).</summary>
    public bool Seen { get; set; }

    /// <summary>The last clock event reason mask.</summary>
    public ulong Reasons { get; set; }

    /// <summary>Volatile corrected and uncorrected ECC counts.</summary>
    public double[] Ecc { get; } = [double.NaN, double.NaN];

    /// <summary>The last remap-pending flag.</summary>
    public double RemapPending { get; set; } = double.NaN;

    /// <summary>The last remap-failure flag.</summary>
    public double RemapFailure { get; set; } = double.NaN;

    /// <summary>The last recovery action.</summary>
    public double RecoveryAction { get; set; } = double.NaN;
}
