using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Nvme;

/// <summary>
/// node_exporter's nvme collector: <c>node_nvme_info{device,firmware_revision,model,serial,state}</c> = 1 for each
/// controller in <c>/sys/class/nvme</c>, from its <c>firmware_rev</c>, <c>model</c>, <c>serial</c> and <c>state</c>.
/// </summary>
/// <remarks>
/// Identity is static and the state changes rarely, so this is sampled in the background. No <c>/sys/class/nvme</c>
/// means no series and success. A controller whose attributes do not read is skipped alone (logged once), where
/// node_exporter 1.5.0 fails the whole collector.
/// </remarks>
internal sealed class NvmeCollector : ICollector
{
    private const string Name = "nvme";
    private static readonly string[] Attributes = ["firmware_rev", "model", "serial", "state"];

    private readonly ILogger _logger;
    private readonly string _classDirectory;
    private readonly MetricFamily _info;
    private readonly HashSet<string> _skipped = new(StringComparer.Ordinal);
    private readonly string[] _values = new string[4];
    private bool _loggedMissing;

    public NvmeCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _classDirectory = context.Paths.Sys("class/nvme");
        _info = context.Group.Gauge(
            "node_nvme_info", "Non-numeric data from /sys/class/nvme/<device>, value is always 1.", "device", "firmware_revision", "model", "serial", "state");
    }

    /// <summary>Registration: enabled by default; sampled every 30 s, since identity does not change and state rarely does.</summary>
    public static CollectorDescriptor Descriptor { get; } = new(
        Name, "NVMe controller identity and state from /sys/class/nvme.", true, Cadence.Background, TimeSpan.FromSeconds(30), c => new NvmeCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        string[] devices;
        try
        {
            devices = Directory.GetFileSystemEntries(_classDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            if (!_loggedMissing)
            {
                _loggedMissing = true;
                DeviceCollectorLog.SourceUnavailable(_logger, Name, _classDirectory);
            }

            return;
        }

        foreach (var directory in devices)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var device = Path.GetFileName(directory);
            try
            {
                for (var i = 0; i < Attributes.Length; i++)
                {
                    _values[i] = SysAttribute.Read(Path.Join(directory, Attributes[i]));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (_skipped.Add(device))
                {
                    DeviceCollectorLog.DeviceSkipped(_logger, Name, device, ex.Message);
                }
                else
                {
                    DeviceCollectorLog.DeviceSkippedAgain(_logger, Name, device, ex.Message);
                }

                continue;
            }

            _skipped.Remove(device);
            _info.Get(device, _values[0], _values[1], _values[2], _values[3]).Set(1);
        }
    }
}
