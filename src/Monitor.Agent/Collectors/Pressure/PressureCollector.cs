using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Pressure;

/// <summary>
/// node_exporter's pressure collector: cumulative PSI stall time from <c>/proc/pressure/{cpu,io,memory}</c>.
/// </summary>
/// <remarks>
/// A kernel without PSI (older than 4.20, or built without <c>CONFIG_PSI</c>) has no <c>/proc/pressure</c>.
/// node_exporter then logs at debug and returns no data; we do the same, but report success, because the agent
/// cannot do anything about the kernel and a permanently failed collector would only be noise on the dashboards.
/// </remarks>
internal sealed class PressureCollector : ICollector
{
    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _cpuPath;
    private readonly string _ioPath;
    private readonly string _memoryPath;
    private readonly MetricFamily _cpuWaiting;
    private readonly MetricFamily _ioWaiting;
    private readonly MetricFamily _ioStalled;
    private readonly MetricFamily _memoryWaiting;
    private readonly MetricFamily _memoryStalled;
    private bool _loggedUnavailable;

    public PressureCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _cpuPath = context.Paths.Proc("pressure/cpu");
        _ioPath = context.Paths.Proc("pressure/io");
        _memoryPath = context.Paths.Proc("pressure/memory");

        // HELP texts are node_exporter's, without a trailing period, as it writes them.
        var g = context.Group;
        _cpuWaiting = g.Counter("node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time");
        _ioWaiting = g.Counter("node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion");
        _ioStalled = g.Counter("node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion");
        _memoryWaiting = g.Counter("node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory");
        _memoryStalled = g.Counter("node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "pressure", "Pressure stall information from /proc/pressure.", true, Cadence.OnScrape, TimeSpan.Zero, c => new PressureCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (Read(_cpuPath) is { } cpu)
        {
            _cpuWaiting.Get().Set(Seconds(cpu.SomeTotalMicroseconds));
        }

        if (Read(_ioPath) is { } io)
        {
            _ioWaiting.Get().Set(Seconds(io.SomeTotalMicroseconds));
            _ioStalled.Get().Set(Seconds(io.FullTotalMicroseconds ?? throw Missing(_ioPath)));
        }

        if (Read(_memoryPath) is { } memory)
        {
            _memoryWaiting.Get().Set(Seconds(memory.SomeTotalMicroseconds));
            _memoryStalled.Get().Set(Seconds(memory.FullTotalMicroseconds ?? throw Missing(_memoryPath)));
        }
    }

    // node_exporter divides twice (float64(total) / 1000.0 / 1000.0); the same operations give the same bits.
    private static double Seconds(ulong microseconds) => (double)microseconds / 1000.0 / 1000.0;

    private static Parsing.MalformedSourceException Missing(string path) => new(path, "no 'full' line");

    /// <summary>Reads one resource; null when the kernel has no PSI. Other failures throw.</summary>
    private PressureTotals? Read(string path)
    {
        ReadOnlySpan<char> text;
        try
        {
            text = _reader.ReadAll(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            if (!_loggedUnavailable)
            {
                _loggedUnavailable = true;
                HostCollectorLog.PressureUnavailable(_logger, path);
            }

            return null;
        }

        return PressureParser.Parse(text).ValueOrThrow(path);
    }
}
