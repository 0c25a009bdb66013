using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.CpuFreq;

/// <summary>
/// node_exporter's cpufreq collector: <c>node_cpu_{,scaling_}frequency{,_min,_max}_hertz{cpu}</c> from
/// <c>/sys/devices/system/cpu/cpuN/cpufreq/{cpuinfo,scaling}_{cur,min,max}_freq</c> (kHz × 1000).
/// </summary>
/// <remarks>
/// Background, every 5 s: on some drivers each <c>*_cur_freq</c> read samples the CPU (an IPI per CPU), which is
/// too costly per scrape on a many-core node. As procfs v0.8.0: a CPU without <c>cpufreq</c> is skipped; a frequency
/// file that is missing or unreadable (<c>cpuinfo_cur_freq</c> is root-only) has no series; the string attributes
/// (<c>scaling_driver</c>, <c>scaling_governor</c>, <c>scaling_available_governors</c>, <c>related_cpus</c>,
/// <c>scaling_setspeed</c>) must be readable. Where node_exporter fails the whole collector for one CPU's bad file,
/// we skip that CPU and log once (event 2101), so one bad CPU never hides the others.
/// </remarks>
internal sealed class CpuFreqCollector : ICollector
{
    private static readonly string[] FrequencyFiles =
        ["cpuinfo_cur_freq", "cpuinfo_min_freq", "cpuinfo_max_freq", "scaling_cur_freq", "scaling_min_freq", "scaling_max_freq"];

    private static readonly string[] RequiredFiles =
        ["cpuinfo_transition_latency", "scaling_available_governors", "scaling_driver", "scaling_governor", "related_cpus", "scaling_setspeed"];

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _cpuRoot;
    private readonly MetricFamily[] _families;
    private readonly Dictionary<string, Cpu> _cpus = new(StringComparer.Ordinal);
    private readonly HashSet<string> _loggedBad = new(StringComparer.Ordinal);
    private readonly double?[] _values = new double?[6];

    public CpuFreqCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _cpuRoot = context.Paths.Sys("devices/system/cpu");
        var g = context.Group;
        _families =
        [
            g.Gauge("node_cpu_frequency_hertz", "Current cpu thread frequency in hertz.", "cpu"),
            g.Gauge("node_cpu_frequency_min_hertz", "Minimum cpu thread frequency in hertz.", "cpu"),
            g.Gauge("node_cpu_frequency_max_hertz", "Maximum cpu thread frequency in hertz.", "cpu"),
            g.Gauge("node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz.", "cpu"),
            g.Gauge("node_cpu_scaling_frequency_min_hertz", "Minimum scaled CPU thread frequency in hertz.", "cpu"),
            g.Gauge("node_cpu_scaling_frequency_max_hertz", "Maximum scaled CPU thread frequency in hertz.", "cpu"),
        ];
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "cpufreq", "CPU frequencies from /sys/devices/system/cpu/cpu*/cpufreq.", true, Cadence.Background, TimeSpan.FromSeconds(5),
        c => new CpuFreqCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        // A missing cpu directory fails, as procfs' glob of an absent directory gives no CPUs: no series, success.
        if (!Directory.Exists(_cpuRoot))
        {
            return;
        }

        foreach (var directory in Directory.EnumerateDirectories(_cpuRoot, "cpu*"))
        {
            var name = Path.GetFileName(directory.AsSpan());
            if (name.Length < 4 || !char.IsAsciiDigit(name[3]))
            {
                continue;
            }

            var lookup = _cpus.GetAlternateLookup<ReadOnlySpan<char>>();
            if (!lookup.TryGetValue(name, out var cpu))
            {
                var label = name[3..].ToString();
                var freq = Path.Join(directory, "cpufreq");
                cpu = new Cpu(label, freq, FrequencyFiles.Select(f => Path.Join(freq, f)).ToArray(), RequiredFiles.Select(f => Path.Join(freq, f)).ToArray());
                _cpus[name.ToString()] = cpu;
            }

            if (!Directory.Exists(cpu.Directory))
            {
                continue;
            }

            if (Read(cpu) is { } problem)
            {
                if (_loggedBad.Add(cpu.Label))
                {
                    HostCollectorLog.EntrySkipped(_logger, cpu.Directory, problem);
                }
                else
                {
                    HostCollectorLog.EntrySkippedAgain(_logger, cpu.Directory, problem);
                }

                continue;
            }

            for (var i = 0; i < _values.Length; i++)
            {
                if (_values[i] is { } value)
                {
                    _families[i].Get(cpu.Label).Set(value);
                }
            }
        }
    }

    /// <summary>Reads one CPU into <see cref="_values"/>; returns the problem that makes procfs refuse it, or null.</summary>
    private string? Read(Cpu cpu)
    {
        for (var i = 0; i < cpu.FrequencyPaths.Length; i++)
        {
            _values[i] = null;
            var path = cpu.FrequencyPaths[i];
            ReadOnlySpan<char> text;
            try
            {
                text = _reader.ReadAll(path);
            }
            catch (Exception ex) when (SourceLog.IsMissing(ex) || ex is UnauthorizedAccessException)
            {
                continue;
            }
            catch (IOException ex)
            {
                return $"{path}: {ex.Message}";
            }

            if (!Parsing.Numbers.TryParseUInt64(text.Trim(), out var khz))
            {
                return $"{path}: not a whole number: '{text.Trim()}'";
            }

            // node_exporter: float64(kHz) * 1000.0.
            _values[i] = khz * 1000.0;
        }

        // cpuinfo_transition_latency is a number file procfs reads but node_exporter does not export: only its syntax counts.
        foreach (var path in cpu.RequiredPaths)
        {
            try
            {
                var text = _reader.ReadAttribute(path);
                if (path.EndsWith("cpuinfo_transition_latency", StringComparison.Ordinal) && !Parsing.Numbers.TryParseUInt64(text.Trim(), out _))
                {
                    return $"{path}: not a whole number: '{text.Trim()}'";
                }
            }
            catch (Exception ex) when (path.EndsWith("cpuinfo_transition_latency", StringComparison.Ordinal) && (SourceLog.IsMissing(ex) || ex is UnauthorizedAccessException))
            {
                // Optional, as the frequency files.
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return $"{path}: {ex.Message}";
            }
        }

        return null;
    }

    private sealed record Cpu(string Label, string Directory, string[] FrequencyPaths, string[] RequiredPaths);
}
