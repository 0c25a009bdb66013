using System.Reflection;
using System.Runtime.InteropServices;
using Monitor.Agent.Collectors;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Self;

/// <summary>
/// The agent's own metrics: <c>monitor_agent_build_info</c>, the standard <c>process_*</c> families of the Prometheus
/// client libraries (read from the real <c>/proc/self</c>, never from <c>--path.procfs</c>, because they describe this
/// process) and a few .NET runtime gauges that show what the agent costs.
/// </summary>
internal sealed class SelfCollector : ICollector
{
    /// <summary>USER_HZ, fixed at 100 on every Linux architecture we ship for.</summary>
    private const double TicksPerSecond = 100;

    private readonly TextFileReader _reader = new();
    private readonly double _bootTime;
    private readonly Series _buildInfo;
    private readonly MetricFamily _cpu;
    private readonly MetricFamily _resident;
    private readonly MetricFamily _virtual;
    private readonly MetricFamily _start;
    private readonly MetricFamily _openFds;
    private readonly MetricFamily _maxFds;
    private readonly MetricFamily _maxVirtual;
    private readonly MetricFamily _heap;
    private readonly MetricFamily _allocated;
    private readonly MetricFamily _collections;
    private readonly MetricFamily _threads;

    public SelfCollector(CollectorContext context)
    {
        var group = context.Group;
        _buildInfo = group.Gauge("monitor_agent_build_info", "A metric with a constant '1' value labeled by version, revision and dotnet_version from which monitor-agent was built.", "version", "revision", "dotnet_version")
            .Get(Version.Version, Version.Revision, RuntimeInformation.FrameworkDescription.Replace(".NET ", string.Empty, StringComparison.Ordinal));
        _cpu = group.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
        _resident = group.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        _virtual = group.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
        _start = group.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
        _openFds = group.Gauge("process_open_fds", "Number of open file descriptors.");
        _maxFds = group.Gauge("process_max_fds", "Maximum number of open file descriptors.");
        _maxVirtual = group.Gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.");
        _heap = group.Gauge("dotnet_gc_heap_bytes", "Bytes the .NET garbage collector currently holds for managed objects.");
        _allocated = group.Counter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.");
        _collections = group.Counter("dotnet_gc_collections_total", "Garbage collections since the process started, by generation.", "generation");
        _threads = group.Gauge("dotnet_threadpool_threads", "Threads in the .NET thread pool.");
        _bootTime = ReadBootTime();
    }

    /// <summary>The agent's version and source revision (from the assembly's informational version, <c>0.1.0+abc1234</c>).</summary>
    public static (string Version, string Revision) Version { get; } = ReadVersion();

    /// <summary>Registration; not in the catalog because it cannot be switched off.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "self", "The agent's own process and runtime metrics.", true, Cadence.OnScrape, TimeSpan.Zero, c => new SelfCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // Set on every update: the runner drops series an update does not touch.
        _buildInfo.Set(1);
        _collections.Get("0").Set(GC.CollectionCount(0));
        _collections.Get("1").Set(GC.CollectionCount(1));
        _collections.Get("2").Set(GC.CollectionCount(2));
        _heap.Get().Set(GC.GetTotalMemory(forceFullCollection: false));
        _allocated.Get().Set(GC.GetTotalAllocatedBytes());
        _threads.Get().Set(ThreadPool.ThreadCount);

        var stat = ProcessStatParser.Parse(_reader.ReadAll("/proc/self/stat")).ValueOrThrow("/proc/self/stat");
        _cpu.Get().Set((stat.UserTicks + stat.SystemTicks) / TicksPerSecond);
        _resident.Get().Set(stat.ResidentPages * (double)Environment.SystemPageSize);
        _virtual.Get().Set(stat.VirtualBytes);
        if (!double.IsNaN(_bootTime))
        {
            _start.Get().Set(_bootTime + (stat.StartTicks / TicksPerSecond));
        }

        var fds = OpenFileDescriptors.Count();
        if (fds >= 0)
        {
            _openFds.Get().Set(fds);
        }
        var limits = _reader.ReadAll("/proc/self/limits");
        var lines = new LineReader(limits);
        while (lines.TryNext(out var line))
        {
            if (SoftLimit(line, "Max open files") is { } files)
            {
                _maxFds.Get().Set(files);
            }
            else if (SoftLimit(line, "Max address space") is { } addressSpace)
            {
                _maxVirtual.Get().Set(addressSpace);
            }
        }
    }

    /// <summary>
    /// The soft limit on a <c>/proc/self/limits</c> line that starts with <paramref name="name"/>; "unlimited" is
    /// 2^64 - 1, as client_golang's process collector (through procfs) reports it.
    /// </summary>
    private static double? SoftLimit(ReadOnlySpan<char> line, string name)
    {
        if (!line.StartsWith(name, StringComparison.Ordinal))
        {
            return null;
        }

        var fields = new FieldReader(line[name.Length..]);
        return !fields.TryNext(out var soft) ? null
            : soft.SequenceEqual("unlimited") ? ulong.MaxValue
            : Numbers.TryParseUInt64(soft, out var value) ? value : null;
    }

    private double ReadBootTime()
    {
        try
        {
            var lines = new LineReader(_reader.ReadAll("/proc/stat"));
            while (lines.TryNext(out var line))
            {
                if (line.StartsWith("btime ", StringComparison.Ordinal) && Numbers.TryParseUInt64(line[6..].Trim(), out var btime))
                {
                    return btime;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Without /proc/stat the start time is unknown; the other self metrics still work.
        }

        return double.NaN;
    }

    private static (string Version, string Revision) ReadVersion()
    {
        var informational = typeof(SelfCollector).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? (informational, "unknown") : (informational[..plus], informational[(plus + 1)..]);
    }
}
