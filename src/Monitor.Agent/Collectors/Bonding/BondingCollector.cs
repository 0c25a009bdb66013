using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Bonding;

/// <summary>
/// node_exporter's bonding collector: <c>node_bonding_slaves{master}</c> and <c>node_bonding_active{master}</c> (slaves
/// whose <c>mii_status</c> is <c>up</c>) for each master in <c>/sys/class/net/bonding_masters</c>.
/// </summary>
/// <remarks>
/// No <c>bonding_masters</c> (the bonding driver is not loaded) means no series and success, after one failed open.
/// A master whose slaves file or a slave's <c>mii_status</c> does not read is skipped alone (logged once), where
/// node_exporter 1.5.0 drops every master (ErrNoData when the file is missing, a failed collector otherwise).
/// Paths are built once per master and slave list; an update that finds the same lists allocates nothing.
/// </remarks>
internal sealed class BondingCollector : ICollector
{
    private const string Name = "bonding";

    private readonly TextFileReader _reader = new();
    private readonly ILogger _logger;
    private readonly string _netDirectory;
    private readonly string _mastersPath;
    private readonly MetricFamily _slaves;
    private readonly MetricFamily _active;
    private readonly Dictionary<string, Master> _masters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Master>.AlternateLookup<ReadOnlySpan<char>> _masterLookup;
    private readonly HashSet<string> _skipped = new(StringComparer.Ordinal);
    private bool _loggedMissing;

    public BondingCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _netDirectory = context.Paths.Sys("class/net");
        _mastersPath = Path.Join(_netDirectory, "bonding_masters");
        _masterLookup = _masters.GetAlternateLookup<ReadOnlySpan<char>>();
        _slaves = context.Group.Gauge("node_bonding_slaves", "Number of configured slaves per bonding interface.", "master");
        _active = context.Group.Gauge("node_bonding_active", "Number of active slaves per bonding interface.", "master");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        Name, "Bonding interfaces' configured and active slaves from /sys/class/net.", true, Cadence.OnScrape, TimeSpan.Zero, c => new BondingCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (DeviceCollectorLog.Absent(_logger, ref _loggedMissing, Name, _mastersPath))
        {
            return;
        }

        ReadOnlySpan<char> masters;
        try
        {
            masters = _reader.ReadAll(_mastersPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Gone between the check above and the read: the next update logs it.
            return;
        }

        // The reader's buffer is reused for the slave files: walk a copy of the names on the stack when it is small.
        Span<char> copy = masters.Length <= 1024 ? stackalloc char[masters.Length] : new char[masters.Length];
        masters.CopyTo(copy);
        foreach (var range in copy.SplitAny(" \t\n\r\v\f"))
        {
            var name = copy[range];
            if (name.IsEmpty)
            {
                continue;
            }

            if (!_masterLookup.TryGetValue(name, out var master))
            {
                var owned = name.ToString();
                master = new Master(owned, Path.Join(_netDirectory, owned), _slaves.Get(owned), _active.Get(owned));
                _masters[owned] = master;
            }

            UpdateMaster(master);
        }
    }

    private void UpdateMaster(Master master)
    {
        try
        {
            var slaves = _reader.ReadAll(master.SlavesPath).Trim(" \t\n\r\v\f");
            if (!slaves.SequenceEqual(master.SlavesText))
            {
                master.Bind(slaves.ToString());
            }

            var active = 0;
            foreach (var slave in master.SlaveStatusPaths)
            {
                ReadOnlySpan<char> state;
                try
                {
                    state = _reader.ReadAll(slave.Lower);
                }
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
                {
                    // Some older kernels name the slave directories slave_<name>.
                    state = _reader.ReadAll(slave.Legacy);
                }

                if (state.Trim(" \t\n\r\v\f").SequenceEqual("up"))
                {
                    active++;
                }
            }

            master.SlavesSeries.Set(master.SlaveStatusPaths.Length);
            master.ActiveSeries.Set(active);
            _skipped.Remove(master.Name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (_skipped.Add(master.Name))
            {
                DeviceCollectorLog.DeviceSkipped(_logger, Name, master.Name, ex.Message);
            }
            else
            {
                DeviceCollectorLog.DeviceSkippedAgain(_logger, Name, master.Name, ex.Message);
            }
        }
    }

    /// <summary>One bonding master: its paths, its series, and the slave list they were built for.</summary>
    private sealed class Master(string name, string directory, Series slaves, Series active)
    {
        public string Name { get; } = name;

        public string SlavesPath { get; } = Path.Join(directory, "bonding", "slaves");

        public Series SlavesSeries { get; } = slaves;

        public Series ActiveSeries { get; } = active;

        public string SlavesText { get; private set; } = string.Empty;

        public (string Lower, string Legacy)[] SlaveStatusPaths { get; private set; } = [];

        public void Bind(string slavesText)
        {
            SlavesText = slavesText;
            SlaveStatusPaths = [.. slavesText.Split([' ', '\t', '\n', '\r', '\v', '\f'], StringSplitOptions.RemoveEmptyEntries).Select(s => (
                Path.Join(directory, "lower_" + s, "bonding_slave", "mii_status"),
                Path.Join(directory, "slave_" + s, "bonding_slave", "mii_status")))];
        }
    }
}
