using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.FibreChannel;

/// <summary>
/// node_exporter's fibrechannel collector: <c>node_fibrechannel_info{fc_host,…}</c> = 1 and the
/// <c>node_fibrechannel_*_total{fc_host}</c> counters of each HBA port in <c>/sys/class/fc_host</c>.
/// </summary>
/// <remarks>
/// As procfs v0.8.0: the info attributes must all read (node_name too, though it is not exported); <c>0x</c> is cut
/// from port_id, port_name and fabric_name; a statistics file that is missing or refused (EINVAL, EOPNOTSUPP) counts 0;
/// counters are Go base-0 integers and one equal to 2^64-1 (not implemented by the firmware) is left out. A host that
/// does not read or parse is skipped alone (logged once), where 1.5.0 fails the collector (or panics on a bad
/// number). No <c>/sys/class/fc_host</c>: no series, success. Reads go through stack buffers and the info series is
/// looked up again only when a label changes, so an update allocates nothing.
/// </remarks>
internal sealed class FibreChannelCollector : ICollector
{
    private const string Name = "fibrechannel";

    /// <summary>The attributes procfs reads, in its order; the first eight (but node_name) label the info series.</summary>
    private static readonly string[] InfoFiles =
        ["speed", "port_state", "port_type", "port_id", "port_name", "fabric_name", "symbolic_name", "supported_classes", "supported_speeds", "dev_loss_tmo", "node_name"];

    private static readonly (string File, string Metric, string Help)[] Counters =
    [
        ("dumped_frames", "node_fibrechannel_dumped_frames_total", "Number of dumped frames"),
        ("error_frames", "node_fibrechannel_error_frames_total", "Number of errors in frames"),
        ("invalid_crc_count", "node_fibrechannel_invalid_crc_total", "Invalid Cyclic Redundancy Check count"),
        ("rx_frames", "node_fibrechannel_rx_frames_total", "Number of frames received"),
        ("rx_words", "node_fibrechannel_rx_words_total", "Number of words received by host port"),
        ("tx_frames", "node_fibrechannel_tx_frames_total", "Number of frames transmitted by host port"),
        ("tx_words", "node_fibrechannel_tx_words_total", "Number of words transmitted by host port"),
        ("seconds_since_last_reset", "node_fibrechannel_seconds_since_last_reset_total", "Number of seconds since last host port reset"),
        ("invalid_tx_word_count", "node_fibrechannel_invalid_tx_words_total", "Number of invalid words transmitted by host port"),
        ("link_failure_count", "node_fibrechannel_link_failure_total", "Number of times the host port link has failed"),
        ("loss_of_sync_count", "node_fibrechannel_loss_of_sync_total", "Number of failures on either bit or transmission word boundaries"),
        ("loss_of_signal_count", "node_fibrechannel_loss_of_signal_total", "Number of times signal has been lost"),
        ("nos_count", "node_fibrechannel_nos_total", "Number Not_Operational Primitive Sequence received by host port"),
        ("fcp_packet_aborts", "node_fibrechannel_fcp_packet_aborts_total", "Number of aborted packets"),
    ];

    private readonly ILogger _logger;
    private readonly string _classDirectory;
    private readonly MetricFamily _info;
    private readonly MetricFamily[] _counters;
    private readonly Dictionary<string, Host> _hosts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _skipped = new(StringComparer.Ordinal);
    private readonly ulong[] _values = new ulong[Counters.Length];
    private bool _loggedMissing;

    public FibreChannelCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _classDirectory = context.Paths.Sys("class/fc_host");
        _info = context.Group.Gauge(
            "node_fibrechannel_info", "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            "fc_host", "speed", "port_state", "port_type", "port_id", "port_name", "fabric_name", "symbolic_name", "supported_classes", "supported_speeds", "dev_loss_tmo");
        _counters = [.. Counters.Select(c => context.Group.Counter(c.Metric, c.Help, "fc_host"))];
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        Name, "Fibre Channel HBA ports from /sys/class/fc_host.", true, Cadence.OnScrape, TimeSpan.Zero, c => new FibreChannelCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (DeviceCollectorLog.Absent(_logger, ref _loggedMissing, Name, _classDirectory))
        {
            return;
        }

        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(_classDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            // Gone between the check above and the read: the next update logs it.
            return;
        }

        foreach (var directory in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_hosts.TryGetValue(directory, out var host))
            {
                host = new Host(directory, Path.GetFileName(directory), _counters);
                _hosts[directory] = host;
            }

            try
            {
                UpdateHost(host);
                _skipped.Remove(host.Name);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                if (_skipped.Add(host.Name))
                {
                    DeviceCollectorLog.DeviceSkipped(_logger, Name, host.Name, ex.Message);
                }
                else
                {
                    DeviceCollectorLog.DeviceSkippedAgain(_logger, Name, host.Name, ex.Message);
                }
            }
        }
    }

    private void UpdateHost(Host host)
    {
        Span<char> buffer = stackalloc char[128];
        var changed = host.Info is null;
        for (var i = 0; i < InfoFiles.Length; i++)
        {
            var value = SysAttribute.Read(host.InfoPaths[i], buffer);
            if (i is 3 or 4 or 5 && value.Length > 2)
            {
                value = value[2..];
            }

            if (!value.SequenceEqual(host.InfoValues[i]))
            {
                host.InfoValues[i] = value.ToString();
                changed = true;
            }
        }

        for (var i = 0; i < Counters.Length; i++)
        {
            _values[i] = 0;
            scoped ReadOnlySpan<char> text;
            try
            {
                text = SysAttribute.Read(host.CounterPaths[i], buffer);
            }
            catch (IOException ex) when (ex is FileNotFoundException or DirectoryNotFoundException || IsRefused(ex))
            {
                continue;
            }

            _values[i] = SysAttribute.TryParseGoUInt64(text, out var value)
                ? value
                : throw new FormatException($"{host.CounterPaths[i]}: not an unsigned integer: '{text}'");
        }

        if (changed)
        {
            var v = host.InfoValues;
            host.Info = _info.Get([host.Name, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]]);
        }

        host.Info!.Set(1);
        for (var i = 0; i < Counters.Length; i++)
        {
            if (_values[i] != ulong.MaxValue)
            {
                host.CounterSeries[i].Set(_values[i]);
            }
        }
    }

    /// <summary>EINVAL or EOPNOTSUPP: write-only statistics files, which procfs skips.</summary>
    private static bool IsRefused(IOException ex) => (ex.HResult & 0xFFFF) is 22 or 95;

    /// <summary>One fc_host: its paths, its series, and the info labels they were looked up with.</summary>
    private sealed class Host
    {
        public Host(string directory, string name, MetricFamily[] counters)
        {
            Name = name;
            InfoPaths = [.. InfoFiles.Select(f => Path.Join(directory, f))];
            InfoValues = new string[InfoFiles.Length];
            Array.Fill(InfoValues, string.Empty);
            CounterPaths = [.. Counters.Select(c => Path.Join(directory, "statistics", c.File))];
            CounterSeries = [.. counters.Select(f => f.Get(name))];
        }

        public string Name { get; }

        public string[] InfoPaths { get; }

        public string[] InfoValues { get; }

        public string[] CounterPaths { get; }

        public Series[] CounterSeries { get; }

        public Series? Info { get; set; }
    }
}
