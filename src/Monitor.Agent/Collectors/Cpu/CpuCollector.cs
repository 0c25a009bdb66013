using System.Globalization;
using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Cpu;

/// <summary>
/// node_exporter's cpu collector with its default flags: <c>node_cpu_seconds_total{cpu,mode}</c> and
/// <c>node_cpu_guest_seconds_total{cpu,mode}</c> from <c>/proc/stat</c>, and, from sysfs,
/// <c>node_cpu_core_throttles_total{package,core}</c>, <c>node_cpu_package_throttles_total{package}</c> and
/// <c>node_cpu_isolated{cpu}</c>. The opt-in <c>node_cpu_info</c> is not implemented.
/// </summary>
/// <remarks>
/// Like node_exporter, each counter is clamped so it never goes backwards (some kernels report slightly lower
/// values after an idle tick correction), and when idle time drops by 3 s or more the CPU's counters are reset,
/// because that means the CPU was hot-plugged (prometheus/node_exporter#1686).
/// </remarks>
internal sealed class CpuCollector : ICollector
{
    /// <summary>procfs hard-codes USER_HZ as 100 on every architecture Linux exports /proc/stat on.</summary>
    private const double UserHz = 100;

    /// <summary>An idle drop at least this large is a hotplug event, not noise (node_exporter's jumpBackSeconds).</summary>
    private const double JumpBackSeconds = 3.0;

    private const int Fields = 10;
    private static readonly string[] Modes = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _statPath;
    private readonly string _cpuDirectory;
    private readonly string _isolatedPath;
    private readonly bool _guest;
    private readonly MetricFamily _seconds;
    private readonly MetricFamily _guestSeconds;
    private readonly MetricFamily _coreThrottles;
    private readonly MetricFamily _packageThrottles;
    private readonly MetricFamily _isolated;
    private readonly List<CpuTicks> _ticks = new(64);
    private readonly Dictionary<int, double[]> _clamped = [];
    private readonly Dictionary<ulong, ulong> _packageThrottleCounts = [];
    private readonly Dictionary<(ulong Package, ulong Core), ulong> _coreThrottleCounts = [];
    private readonly List<int> _isolatedCpus = [];
    private List<ThrottleSource>? _throttleSources;
    private int _sysfsCpuCount = -1;
    private bool _isolatedRead;

    public CpuCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _statPath = context.Paths.Proc("stat");
        _cpuDirectory = context.Paths.Sys("devices/system/cpu");
        _isolatedPath = context.Paths.Sys("devices/system/cpu/isolated");
        _guest = !bool.TryParse(context.Settings["guest"], out var guest) || guest;

        var g = context.Group;
        _seconds = g.Counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "cpu", "mode");
        _guestSeconds = g.Counter("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.", "cpu", "mode");
        _coreThrottles = g.Counter("node_cpu_core_throttles_total", "Number of times this CPU core has been throttled.", "package", "core");
        _packageThrottles = g.Counter("node_cpu_package_throttles_total", "Number of times this CPU package has been throttled.", "package");
        _isolated = g.Gauge("node_cpu_isolated", "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.", "cpu");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "cpu", "CPU time from /proc/stat, thermal throttles and isolated CPUs from sysfs.", true, Cadence.OnScrape, TimeSpan.Zero,
        c => new CpuCollector(c),
        [new CollectorFlag("guest", "true", "Enables metric node_cpu_guest_seconds_total.", FlagKind.Bool)]);

    public void Update(CancellationToken cancellationToken)
    {
        CpuParser.Parse(_reader.ReadAll(_statPath), _ticks).ValueOrThrow(_statPath);
        UpdateTimes();
        UpdateThermalThrottles();
        UpdateIsolated();
    }

    private void UpdateTimes()
    {
        // A changed CPU count resets the clamp cache, as node_exporter 1.5.0 does.
        if (_clamped.Count != _ticks.Count)
        {
            _clamped.Clear();
        }

        Span<double> current = stackalloc double[Fields];
        Span<char> cpuLabel = stackalloc char[11];
        foreach (var t in _ticks)
        {
            current[0] = t.User / UserHz;
            current[1] = t.Nice / UserHz;
            current[2] = t.System / UserHz;
            current[3] = t.Idle / UserHz;
            current[4] = t.Iowait / UserHz;
            current[5] = t.Irq / UserHz;
            current[6] = t.SoftIrq / UserHz;
            current[7] = t.Steal / UserHz;
            current[8] = t.Guest / UserHz;
            current[9] = t.GuestNice / UserHz;

            if (!_clamped.TryGetValue(t.Cpu, out var kept))
            {
                kept = new double[Fields];
                _clamped.Add(t.Cpu, kept);
            }

            if (kept[3] - current[3] >= JumpBackSeconds)
            {
                HostCollectorLog.CpuJumpedBack(_logger, t.Cpu, kept[3] - current[3]);
                Array.Clear(kept);
            }

            for (var i = 0; i < Fields; i++)
            {
                kept[i] = Math.Max(kept[i], current[i]);
            }

            t.Cpu.TryFormat(cpuLabel, out var n, default, CultureInfo.InvariantCulture);
            var cpu = cpuLabel[..n];
            for (var i = 0; i < Modes.Length; i++)
            {
                _seconds.Get(cpu, Modes[i]).Set(kept[i]);
            }

            // Guest time is also counted in user and nice; node_exporter exports it separately and subtracts nothing.
            if (_guest)
            {
                _guestSeconds.Get(cpu, "user").Set(kept[8]);
                _guestSeconds.Get(cpu, "nice").Set(kept[9]);
            }
        }
    }

    /// <summary>
    /// Reads <c>thermal_throttle/{core,package}_throttle_count</c> once per core and per package, the first CPU of
    /// each giving the value, as node_exporter does. CPUs without topology (offline) or without the counters (not
    /// Intel, or a VM) are skipped; see https://docs.kernel.org/arch/x86/topology.html.
    /// </summary>
    private void UpdateThermalThrottles()
    {
        // Topology and the presence of the counters only change with hotplug, which also changes the CPU count in
        // /proc/stat, so they are read once per CPU count. Per update only the counters that exist are read: probing
        // missing files (every VM, every non-Intel CPU) cost an exception per file and scrape.
        if (_throttleSources is null || _sysfsCpuCount != _ticks.Count)
        {
            _throttleSources = DiscoverThrottleSources();
            _sysfsCpuCount = _ticks.Count;
        }

        _packageThrottleCounts.Clear();
        _coreThrottleCounts.Clear();
        foreach (var source in _throttleSources)
        {
            if (source.CoreCount is not null && !_coreThrottleCounts.ContainsKey((source.Package, source.Core)) && TryReadUInt(source.CoreCount, out var coreCount))
            {
                _coreThrottleCounts[(source.Package, source.Core)] = coreCount;
            }

            if (source.PackageCount is not null && !_packageThrottleCounts.ContainsKey(source.Package) && TryReadUInt(source.PackageCount, out var packageCount))
            {
                _packageThrottleCounts[source.Package] = packageCount;
            }
        }

        Span<char> packageLabel = stackalloc char[20];
        Span<char> coreLabel = stackalloc char[20];
        foreach (var ((package, core), count) in _coreThrottleCounts)
        {
            package.TryFormat(packageLabel, out var p, default, CultureInfo.InvariantCulture);
            core.TryFormat(coreLabel, out var c, default, CultureInfo.InvariantCulture);
            _coreThrottles.Get(packageLabel[..p], coreLabel[..c]).Set(count);
        }

        foreach (var (package, count) in _packageThrottleCounts)
        {
            package.TryFormat(packageLabel, out var p, default, CultureInfo.InvariantCulture);
            _packageThrottles.Get(packageLabel[..p]).Set(count);
        }
    }

    private List<ThrottleSource> DiscoverThrottleSources()
    {
        var sources = new List<ThrottleSource>();
        foreach (var cpu in CpuSysfsPaths.Discover(_cpuDirectory))
        {
            if (TryReadUInt(cpu.PhysicalPackageId, out var package) && TryReadUInt(cpu.CoreId, out var core))
            {
                sources.Add(new ThrottleSource(
                    package,
                    core,
                    File.Exists(cpu.CoreThrottleCount) ? cpu.CoreThrottleCount : null,
                    File.Exists(cpu.PackageThrottleCount) ? cpu.PackageThrottleCount : null));
            }
        }

        return sources;
    }

    /// <summary>
    /// The isolated list is fixed at boot (<c>isolcpus=</c>), so it is read once, as node_exporter does. A missing
    /// file means none; a malformed one is logged and exported as none rather than failing the CPU times.
    /// </summary>
    private void UpdateIsolated()
    {
        if (!_isolatedRead)
        {
            _isolatedRead = true;
            try
            {
                var parsed = CpuParser.ParseCpuList(_reader.ReadAttribute(_isolatedPath), _isolatedCpus);
                if (!parsed.Success)
                {
                    _isolatedCpus.Clear();
                    HostCollectorLog.EntrySkipped(_logger, _isolatedPath, parsed.Error!);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                HostCollectorLog.CpuAttributeUnavailable(_logger, _isolatedPath, ex.Message);
            }
        }

        Span<char> cpuLabel = stackalloc char[11];
        foreach (var cpu in _isolatedCpus)
        {
            cpu.TryFormat(cpuLabel, out var n, default, CultureInfo.InvariantCulture);
            _isolated.Get(cpuLabel[..n]).Set(1);
        }
    }

    private bool TryReadUInt(string path, out ulong value)
    {
        try
        {
            if (Parsing.Numbers.TryParseUInt64(_reader.ReadAttribute(path).Trim(), out value))
            {
                return true;
            }

            HostCollectorLog.CpuAttributeUnavailable(_logger, path, "not an unsigned integer");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            HostCollectorLog.CpuAttributeUnavailable(_logger, path, ex.Message);
        }

        value = 0;
        return false;
    }

    /// <summary>One CPU's topology and the throttle counter files that exist for it (null when absent).</summary>
    private sealed record ThrottleSource(ulong Package, ulong Core, string? CoreCount, string? PackageCount);
}
