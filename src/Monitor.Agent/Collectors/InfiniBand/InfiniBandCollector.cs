using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Threading;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.InfiniBand;

/// <summary>
/// node_exporter's infiniband collector: every port of every device under <c>/sys/class/infiniband</c> as
/// <c>node_infiniband_*{device,port}</c> with node_exporter's names and units (1.5.0 for <c>counters/</c> and
/// <c>counters_ext/</c>, 1.11+ for <c>hw_counters/</c>), plus <c>node_infiniband_info</c>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Filter before reading.</b> <c>device-include</c>/<c>device-exclude</c> are matched against the names in the
/// class folder, before any file of the device is opened: on Fabric-Manager-managed ConnectX-7 ports even a read
/// floods dmesg (prometheus/node_exporter#3265).
/// </para>
/// <para>
/// <b>Isolation.</b> Each device is read on its own <see cref="IsolatedCall"/>, the mechanism the filesystem collector
/// uses for statfs: the update waits at most <c>read-timeout</c> for all devices together, and a device that did not
/// answer is reported failed and not read again until its stuck read returns. A device whose files do not parse is
/// failed alone (<c>node_infiniband_device_error 1</c>, one warning), and the rest of its series that did read are
/// still exported. node_exporter fails the whole collector instead.
/// </para>
/// <para>
/// <b>Additions.</b> <c>node_infiniband_device_error{device}</c>, and <c>node_infiniband_saturated{device,port,counter}</c>
/// for the <c>counters/</c> files that are narrow IBA PortCounters fields (<see cref="InfiniBandCounter.Width"/>):
/// 1 while the value is the field's maximum, where it stops instead of wrapping. Link events (state change,
/// link_downed or link_error_recovery increase, rate drop) are logged as <see cref="HostCollectorLog"/> events 2110-2113.
/// </para>
/// </remarks>
internal sealed class InfiniBandCollector : ICollector
{
    /// <summary>Default <c>--collector.infiniband.read-timeout</c>, the same as the filesystem collector's mount-timeout.</summary>
    public const string DefaultReadTimeout = "5s";

    private static readonly string[] PortLabels = ["device", "port"];

    /// <summary>
    /// The families node_exporter 1.5.0 does not export: our device error and saturation gauges, and the
    /// <c>hw_counters/</c> families (node_exporter 1.11+). Golden comparisons against 1.5.0 leave them out.
    /// </summary>
    public static IReadOnlyList<string> BeyondNodeExporter150 { get; } =
    [
        "node_infiniband_saturated",
        "node_infiniband_device_error",
        .. InfiniBandCounter.All.Where(c => c.Source == CounterSource.HwCounters).Select(c => "node_infiniband_" + c.Metric),
    ];

    private readonly string _classDirectory;
    private readonly DeviceFilter _filter;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, InfiniBandDevice> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InfiniBandDevice>.AlternateLookup<ReadOnlySpan<char>> _deviceLookup;
    private readonly Dictionary<InfiniBandCounter, MetricFamily> _counterFamilies = [];
    private readonly List<(InfiniBandDevice Device, bool Started)> _batch = [];
    private readonly List<string> _stale = [];
    private readonly MetricFamily _stateId;
    private readonly MetricFamily _physicalStateId;
    private readonly MetricFamily _rate;
    private readonly MetricFamily _info;
    private readonly MetricFamily _deviceError;
    private readonly MetricFamily _saturated;
    private long _generation;

    public InfiniBandCollector(CollectorContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _classDirectory = context.Paths.Sys("class/infiniband");
        _filter = DeviceFilter.FromSettings(context.Settings, string.Empty);
        _time = context.Time;
        _logger = context.Logger;
        _deviceLookup = _devices.GetAlternateLookup<ReadOnlySpan<char>>();

        var timeoutText = context.Settings["read-timeout"] ?? DefaultReadTimeout;
        var timeout = DurationParser.Parse(timeoutText);
        if (!timeout.Success || timeout.Value <= TimeSpan.Zero)
        {
            throw new ArgumentException(
                $"Collectors:infiniband:read-timeout: '{timeoutText}' is not a positive duration such as 500ms or 5s ({timeout.Error ?? "not positive"})",
                nameof(context));
        }

        _timeout = timeout.Value;

        var g = context.Group;
        _info = g.Gauge("node_infiniband_info", "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.", "board_id", "device", "firmware_version", "hca_type");
        _stateId = g.Gauge("node_infiniband_state_id", "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)", PortLabels);
        _physicalStateId = g.Gauge("node_infiniband_physical_state_id",
            "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)", PortLabels);
        _rate = g.Gauge("node_infiniband_rate_bytes_per_second", "Maximum signal transfer rate", PortLabels);
        foreach (var counter in InfiniBandCounter.All)
        {
            var name = "node_infiniband_" + counter.Metric;
            _counterFamilies[counter] = counter.IsGauge ? g.Gauge(name, counter.Help, PortLabels) : g.Counter(name, counter.Help, PortLabels);
        }

        _deviceError = g.Gauge("node_infiniband_device_error", "1 when the last read of an InfiniBand device failed (a file did not parse or the device did not answer in time), else 0.", "device");
        _saturated = g.Gauge("node_infiniband_saturated",
            "1 when a narrow IBA PortCounters value (counter = sysfs file) is at its maximum, where it stops counting instead of wrapping; rates over it read 0.",
            "device", "port", "counter");
    }

    /// <summary>Registration: enabled by default (as in node_exporter), sampled in the background because a port's PMA can be slow.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        "infiniband",
        "InfiniBand and RoCE port counters, state and rate from /sys/class/infiniband.",
        true,
        Cadence.Background,
        TimeSpan.FromSeconds(5),
        c => new InfiniBandCollector(c),
        [
            .. DeviceFilter.Flags("infiniband", string.Empty),
            new CollectorFlag("read-timeout", DefaultReadTimeout, "How long to wait for a device's sysfs files before marking it failed and stuck.", FlagKind.Duration),
        ]);

    /// <inheritdoc/>
    public void Update(CancellationToken cancellationToken)
    {
        var generation = ++_generation;
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(_classDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            // No RDMA devices on this machine (node_exporter's ErrNoData): nothing to export, nothing failed.
            return;
        }

        _batch.Clear();
        foreach (var entry in entries)
        {
            var name = Path.GetFileName(entry.AsSpan());

            // Before anything is opened: an excluded device must never be read.
            if (_filter.IsIgnored(name))
            {
                continue;
            }

            if (!_deviceLookup.TryGetValue(name, out var device))
            {
                device = new InfiniBandDevice(name.ToString(), entry);
                _devices.Add(device.Name, device);
            }

            device.LastSeen = generation;
            if (device.Call.IsInFlight)
            {
                // Quarantined: the read that timed out earlier has not returned; neither wait nor start another.
                _deviceError.Get(device.Name).Set(1);
                _batch.Add((device, false));
                continue;
            }

            if (device.Call.Stuck)
            {
                device.Call.Stuck = false;
                HostCollectorLog.IbDeviceRecovered(_logger, device.Name);
            }

            device.Call.Start();
            _batch.Add((device, true));
        }

        // One deadline for all devices: they are read in parallel, so the update waits at most read-timeout in all.
        var started = _time.GetTimestamp();
        foreach (var (device, waitFor) in _batch)
        {
            if (!waitFor)
            {
                continue;
            }

            if (!device.Call.Wait(_timeout - _time.GetElapsedTime(started), cancellationToken))
            {
                device.Call.Stuck = true;
                device.ReportedFailed = true;
                HostCollectorLog.IbDeviceStuck(_logger, device.Name, _timeout);
                _deviceError.Get(device.Name).Set(1);
                continue;
            }

            Publish(device);
        }

        Prune(generation);
    }

    private void Publish(InfiniBandDevice device)
    {
        var problem = device.Problem ?? (device.Call.Fault is { } fault ? fault.Message : null);
        if (problem is not null && !device.ReportedFailed)
        {
            HostCollectorLog.IbDeviceFailed(_logger, device.Name, problem);
        }
        else if (problem is null && device.ReportedFailed)
        {
            HostCollectorLog.IbDeviceRecovered(_logger, device.Name);
        }

        device.ReportedFailed = problem is not null;
        _deviceError.Get(device.Name).Set(problem is null ? 0 : 1);
        if (device.Call.Fault is not null)
        {
            return;
        }

        if (device.FirmwareVersion is { } firmware)
        {
            _info.Get(device.BoardId, device.Name, firmware, device.HcaType).Set(1);
        }

        foreach (var port in device.Ports)
        {
            if (port.StateId >= 0)
            {
                _stateId.Get(device.Name, port.Number).Set(port.StateId);
            }

            if (port.PhysStateId >= 0)
            {
                _physicalStateId.Get(device.Name, port.Number).Set(port.PhysStateId);
            }

            if (port.Rate >= 0)
            {
                _rate.Get(device.Name, port.Number).Set(port.Rate);
            }

            var linkDowned = -1d;
            var linkErrorRecovery = -1d;
            foreach (var file in port.Counters)
            {
                if (!file.Present)
                {
                    continue;
                }

                var counter = file.Counter;
                // node_exporter multiplies in uint64 (wrapping) and divides in integer arithmetic: reproduce both.
                var value = unchecked(file.Raw * counter.Multiplier) / counter.Divisor;
                _counterFamilies[counter].Get(device.Name, port.Number).Set(value);
                if (counter.Width != 0)
                {
                    _saturated.Get(device.Name, port.Number, counter.File).Set(file.Raw == counter.SaturatedValue ? 1 : 0);
                }

                if (counter.Source == CounterSource.Counters)
                {
                    if (counter.File == "link_downed")
                    {
                        linkDowned = file.Raw;
                    }
                    else if (counter.File == "link_error_recovery")
                    {
                        linkErrorRecovery = file.Raw;
                    }
                }
            }

            DetectEvents(device, port, linkDowned, linkErrorRecovery);
        }
    }

    /// <summary>Compares a port with its previous read and logs one event per kind of change (events 2110-2113).</summary>
    private void DetectEvents(InfiniBandDevice device, InfiniBandPort port, double linkDowned, double linkErrorRecovery)
    {
        if (port.HasPrevious)
        {
            if (port.StateId >= 0 && port.PhysStateId >= 0 && (port.StateId != port.PreviousStateId || port.PhysStateId != port.PreviousPhysStateId))
            {
                // Coming back to ACTIVE is good news; anything else is worth a warning.
                var level = port.StateId == 4 ? LogLevel.Information : LogLevel.Warning;
                HostCollectorLog.IbPortStateChanged(
                    _logger, level, device.Name, port.Number, port.LinkLayer, port.PreviousStateId, port.PreviousStateName, port.StateId, port.StateName,
                    port.PreviousPhysStateId, port.PreviousPhysStateName, port.PhysStateId, port.PhysStateName, device.NodeGuid);
            }

            if (linkDowned >= 0 && port.PreviousLinkDowned >= 0 && linkDowned > port.PreviousLinkDowned)
            {
                HostCollectorLog.IbLinkDowned(_logger, device.Name, port.Number, port.LinkLayer, port.PreviousLinkDowned, linkDowned, device.NodeGuid);
            }

            if (port.Rate >= 0 && port.PreviousRate >= 0 && port.Rate < port.PreviousRate)
            {
                HostCollectorLog.IbRateDropped(
                    _logger, device.Name, port.Number, port.LinkLayer, port.PreviousRate / InfiniBandParser.BytesPerGigabit, port.Rate / InfiniBandParser.BytesPerGigabit,
                    port.PreviousRate, port.Rate, device.NodeGuid);
            }

            if (linkErrorRecovery >= 0 && port.PreviousLinkErrorRecovery >= 0 && linkErrorRecovery > port.PreviousLinkErrorRecovery)
            {
                HostCollectorLog.IbLinkErrorRecoveryBurst(_logger, device.Name, port.Number, port.LinkLayer, port.PreviousLinkErrorRecovery, linkErrorRecovery, device.NodeGuid);
            }
        }

        // A value that could not be read keeps the last known one, so a transient read error does not look like a change.
        if (port.StateId >= 0 && port.PhysStateId >= 0)
        {
            port.PreviousStateId = port.StateId;
            port.PreviousStateName = port.StateName;
            port.PreviousPhysStateId = port.PhysStateId;
            port.PreviousPhysStateName = port.PhysStateName;
            port.HasPrevious = true;
        }

        port.PreviousRate = port.Rate >= 0 ? port.Rate : port.PreviousRate;
        port.PreviousLinkDowned = linkDowned >= 0 ? linkDowned : port.PreviousLinkDowned;
        port.PreviousLinkErrorRecovery = linkErrorRecovery >= 0 ? linkErrorRecovery : port.PreviousLinkErrorRecovery;
    }

    private void Prune(long generation)
    {
        _stale.Clear();
        foreach (var (name, device) in _devices)
        {
            if (device.LastSeen != generation)
            {
                _stale.Add(name);
            }
        }

        foreach (var name in _stale)
        {
            // A read still in flight keeps running; its result is simply never published.
            _devices.Remove(name);
        }
    }
}
