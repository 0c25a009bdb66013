using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Mdadm;

/// <summary>
/// node_exporter's mdadm collector: <c>node_md_state</c>, <c>node_md_disks</c>, <c>node_md_disks_required</c>,
/// <c>node_md_blocks</c> and <c>node_md_blocks_synced</c> per array from <c>/proc/mdstat</c>.
/// </summary>
/// <remarks>
/// No <c>/proc/mdstat</c> (the md driver is not loaded) means no series and success, as node_exporter's ErrNoData;
/// that costs one failed open. A file that does not parse fails the collector, as in node_exporter. The file is
/// reparsed only when its text changes; otherwise an update compares the text and sets the cached series.
/// </remarks>
internal sealed class MdadmCollector : ICollector
{
    private const string Name = "mdadm";
    private static readonly string[] States = ["active", "inactive", "recovering", "resync", "check"];
    private static readonly string[] ActivityStates = ["active", "inactive", "recovering", "resyncing", "checking"];

    private readonly TextFileReader _reader = new(longRecords: true);
    private readonly ILogger _logger;
    private readonly string _path;
    private readonly MetricFamily _state;
    private readonly MetricFamily _disks;
    private readonly MetricFamily _disksRequired;
    private readonly MetricFamily _blocks;
    private readonly MetricFamily _blocksSynced;
    private char[] _lastText = [];
    private int _lastLength = -1;
    private Series[] _series = [];
    private double[] _values = [];
    private bool _loggedMissing;

    public MdadmCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _path = context.Paths.Proc("mdstat");
        var g = context.Group;
        _state = g.Gauge("node_md_state", "Indicates the state of md-device.", "device", "state");
        _disks = g.Gauge("node_md_disks", "Number of active/failed/spare disks of device.", "device", "state");
        _disksRequired = g.Gauge("node_md_disks_required", "Total number of disks of device.", "device");
        _blocks = g.Gauge("node_md_blocks", "Total number of blocks on device.", "device");
        _blocksSynced = g.Gauge("node_md_blocks_synced", "Number of blocks synced on device.", "device");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        Name, "Software RAID (md) arrays from /proc/mdstat.", true, Cadence.OnScrape, TimeSpan.Zero, c => new MdadmCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (DeviceCollectorLog.Absent(_logger, ref _loggedMissing, Name, _path))
        {
            return;
        }

        ReadOnlySpan<char> text;
        try
        {
            text = _reader.ReadAll(_path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Gone between the check above and the read: the next update logs it.
            return;
        }

        if (text.Length != _lastLength || !text.SequenceEqual(_lastText.AsSpan(0, _lastLength)))
        {
            _lastLength = -1;
            var devices = MdStatParser.Parse(text.ToString()).ValueOrThrow(_path);
            var series = new List<Series>();
            var values = new List<double>();
            foreach (var md in devices)
            {
                Bind(md, series, values);
            }

            _series = [.. series];
            _values = [.. values];
            _lastText = text.ToArray();
            _lastLength = text.Length;
        }

        for (var i = 0; i < _series.Length; i++)
        {
            _series[i].Set(_values[i]);
        }
    }

    /// <summary>Appends the series of one array and their values.</summary>
    private void Bind(MdDevice md, List<Series> series, List<double> values)
    {
        void Add(Series s, double v)
        {
            series.Add(s);
            values.Add(v);
        }

        Add(_disksRequired.Get(md.Name), md.DisksTotal);
        Add(_disks.Get(md.Name, "active"), md.DisksActive);
        Add(_disks.Get(md.Name, "failed"), md.DisksFailed);
        Add(_disks.Get(md.Name, "spare"), md.DisksSpare);
        for (var i = 0; i < States.Length; i++)
        {
            Add(_state.Get(md.Name, States[i]), md.ActivityState == ActivityStates[i] ? 1 : 0);
        }

        Add(_blocks.Get(md.Name), md.BlocksTotal);
        Add(_blocksSynced.Get(md.Name), md.BlocksSynced);
    }
}
