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
    private static readonly bool[] Slow = GpuCatalog.SlowValues();

    private static readonly GpuMetric[] TickReads = GpuCatalog.Reads(GpuCadence.Tick);
    private static readonly GpuMetric[] SlowReads = GpuCatalog.Reads(GpuCadence.Slow);

    /// <summary>How much earlier than its interval a slow read may come (a quarter of the interval at most).</summary>
    private static readonly TimeSpan SlowJitter = TimeSpan.FromMilliseconds(250);

    private readonly INvml _nvml;
    private readonly TimeProvider _time;
    private readonly GpuSamplerOptions _options;

    /// <summary><see cref="SlowJitter"/> for this interval, in <see cref="TimeProvider"/> timestamp units.</summary>
    private readonly long _slowAllowance;
    private readonly GpuSample _work = new();
    private readonly GpuSample _published = new();
    private readonly Lock _publishLock = new();
    private readonly IsolatedCall _call;
    private readonly bool[] _unsupported = new bool[(int)GpuValue.Count + (int)Extra.Count];
    private readonly List<NvmlProcessInfo> _processes = [];
    private readonly List<NvmlProcessUtilizationSample> _processUtilization = [];
    private readonly Dictionary<uint, (double Sm, double Memory)> _utilizationByPid = [];
    private readonly List<NvmlMigDevice> _migDevices = [];
    private long _nextSlow = long.MinValue;
    private ulong _lastProcessSample;

    private readonly string _driverVersion;
    private readonly EnergyCounter _energy;
    private readonly GpmSampler _gpm;
    private readonly GpuFieldBatch _fieldBatch;
    private readonly Func<NvmlReturn, bool> _checkFields;
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
        _slowAllowance = Math.Min(options.SlowInterval.Ticks / 4, SlowJitter.Ticks) * time.TimestampFrequency / TimeSpan.TicksPerSecond;
        _driverVersion = driverVersion;
        Index = index;
        IndexLabel = index.ToString(CultureInfo.InvariantCulture);
        Handle = handle;
        _call = new IsolatedCall(Execute, $"nvml-gpu{index}") { Persistent = true, StackSize = 256 * 1024 };
        _energy = new EnergyCounter(time);
        _gpm = new GpmSampler(nvml, time, result => Ok((GpuValue)Extra.Gpm, result));
        _fieldBatch = new GpuFieldBatch(nvml);
        _checkFields = result => Ok((GpuValue)Extra.FieldValues, result);
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

    private void Sample()
    {
        var now = _time.GetTimestamp();

        // A tick may come a little earlier against the last one than the interval (the last was late): it still takes
        // the slow read that is due, or a slow interval equal to the tick would skip one read in two under load, and
        // the energy counter would move on by the power integral meanwhile.
        var slow = now + _slowAllowance >= _nextSlow;
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
            _fieldBatch.Sample(Handle, Can((GpuValue)Extra.FieldValues), v, _work.NvLinkUp, _checkFields);
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
            _gpm.Sample(Handle, _work, _migDevices);
        }

        if (!_lost && _energy.TryRead(out var joules))
        {
            v[(int)GpuValue.Energy] = joules;
        }

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

    /// <summary>The values read every tick (<see cref="GpuCadence.Tick"/> rows), and the power into the energy integral.</summary>
    private void SampleFast(double[] v, long now)
    {
        foreach (var metric in TickReads)
        {
            if (Can(metric.Value))
            {
                _ = Ok(metric.Value, metric.Read!(_nvml, Handle, v));
            }
        }

        if (!double.IsNaN(v[(int)GpuValue.Power]))
        {
            _energy.Integrate(v[(int)GpuValue.Power], now);
        }
    }

    /// <summary>Static or expensive values (<see cref="GpuCadence.Slow"/> rows), the energy counter's anchor, the NVLink link count.</summary>
    private void SampleSlow(double[] v, long now)
    {
        foreach (var metric in SlowReads)
        {
            if ((!metric.OptIn || _options.PcieThroughput) && Can(metric.Value))
            {
                _ = Ok(metric.Value, metric.Read!(_nvml, Handle, v));
            }
        }

        if (Can(GpuValue.Energy) && Ok(GpuValue.Energy, _nvml.Energy(Handle, out var millijoules)))
        {
            _energy.Anchor(millijoules / 1000.0, now);
        }

        if (Can(GpuValue.NvLinkCount))
        {
            ReadLinkCount(v);
        }
    }

    /// <summary>NVLink's link count (field 91) at the slow cadence; it sizes the per-tick field batch.</summary>
    private void ReadLinkCount(double[] v)
    {
        if (!Can((GpuValue)Extra.FieldValues))
        {
            return;
        }

        switch (_fieldBatch.ReadLinkCount(Handle, _checkFields, out var links))
        {
            case null:
                return;
            case NvmlReturn.Success:
                v[(int)GpuValue.NvLinkCount] = links;
                break;
            case NvmlReturn.NotSupported:
                _unsupported[(int)GpuValue.NvLinkCount] = true;
                break;
        }

        _fieldBatch.Build(GpuFieldBatch.LinksOf(v));
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
