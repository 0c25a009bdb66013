using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.NetDev;

/// <summary>
/// node_exporter's netdev collector reading <c>/proc/net/dev</c>: <c>node_network_&lt;column&gt;_total{device}</c>
/// for each of the 16 columns, with node_exporter's legacy names.
/// </summary>
/// <remarks>
/// node_exporter 1.5.0 reads the same counters over rtnetlink by default (which adds <c>receive_nohandler</c>) and
/// falls back to this file with <c>--no-collector.netdev.netlink</c>; we read the file, which works against a
/// <c>--path.procfs</c> fixture and needs no netlink socket, and take <c>receive_nohandler</c> from sysfs
/// (<c>statistics/rx_nohandler</c>, the counter rtnetlink reports), where the kernel has it. The default exclude is
/// Debian's packaged <c>^lo$</c>. A line that does not parse drops only that interface.
/// </remarks>
internal sealed class NetDevCollector : ICollector
{
    /// <summary>Debian's node_exporter 1.5.0 default for <c>--collector.netdev.device-exclude</c>.</summary>
    public const string DefaultExclude = "^lo$";

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly DeviceFilter _filter;
    private readonly MetricFamily[] _families;
    private readonly MetricFamily _noHandler;
    private readonly Func<string, string> _noHandlerPath;
    private readonly Dictionary<string, string?> _noHandlerPaths = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?>.AlternateLookup<ReadOnlySpan<char>> _noHandlerLookup;
    private bool _warned;

    /// <summary>Families node_exporter 1.5.0 has only over rtnetlink, so not in the golden made from /proc/net/dev.</summary>
    public static IReadOnlyList<string> BeyondNodeExporter150Proc { get; } = ["node_network_receive_nohandler_total"];

    public NetDevCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _path = context.Paths.Proc("net/dev");
        _filter = DeviceFilter.FromSettings(context.Settings, DefaultExclude);
        _families = [.. NetDevParser.Columns.Select(c => context.Group.Counter($"node_network_{c}_total", $"Network device statistic {c}.", "device"))];
        _noHandler = context.Group.Counter("node_network_receive_nohandler_total", "Network device statistic receive_nohandler.", "device");
        var sys = context.Paths;
        _noHandlerPath = device => sys.Sys(Path.Join("class/net", device, "statistics/rx_nohandler"));
        _noHandlerLookup = _noHandlerPaths.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "netdev", "Network interface statistics from /proc/net/dev.", true, Cadence.OnScrape, TimeSpan.Zero,
        c => new NetDevCollector(c), DeviceFilter.Flags("network", DefaultExclude));

    public void Update(CancellationToken cancellationToken)
    {
        var lines = new Parsing.LineReader(_reader.ReadAll(_path));
        for (var i = 0; i < NetDevParser.HeaderLines; i++)
        {
            if (!lines.TryNext(out _))
            {
                throw new Parsing.MalformedSourceException(_path, "missing header lines");
            }
        }

        while (lines.TryNext(out var line))
        {
            if (line.IsWhiteSpace())
            {
                continue;
            }

            var parsed = NetDevParser.ParseLine(line);
            if (!parsed.Success)
            {
                Skipped(parsed.Error!);
                continue;
            }

            var stats = parsed.Value;
            var device = line[stats.Name];
            if (_filter.IsIgnored(device))
            {
                continue;
            }

            for (var c = 0; c < _families.Length; c++)
            {
                _families[c].Get(device).Set(stats.Counters[c]);
            }

            if (NoHandler(device) is { } noHandler)
            {
                _noHandler.Get(device).Set(noHandler);
            }
        }
    }

    /// <summary>The device's rx_nohandler counter, or null where sysfs has none (kernels before 4.6, other namespaces).</summary>
    private double? NoHandler(ReadOnlySpan<char> device)
    {
        if (!_noHandlerLookup.TryGetValue(device, out var path))
        {
            // Looked up once per device name; veth churn is bounded by starting over.
            if (_noHandlerPaths.Count >= 4096)
            {
                _noHandlerPaths.Clear();
            }

            var name = device.ToString();
            path = _noHandlerPath(name);
            _noHandlerPaths[name] = path = File.Exists(path) ? path : null;
        }

        if (path is null)
        {
            return null;
        }

        try
        {
            return Parsing.Numbers.TryParseUInt64(_reader.ReadAttribute(path).Trim(), out var value) ? value : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The device went away between /proc/net/dev and sysfs.
            return null;
        }
    }

    private void Skipped(string problem)
    {
        // Warn once; after that the same broken line would warn on every scrape.
        if (!_warned)
        {
            _warned = true;
            HostCollectorLog.EntrySkipped(_logger, _path, problem);
        }
        else
        {
            HostCollectorLog.EntrySkippedAgain(_logger, _path, problem);
        }
    }
}
