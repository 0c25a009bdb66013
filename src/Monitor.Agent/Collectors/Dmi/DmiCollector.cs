using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;
using Monitor.Core.Exposition;

namespace Monitor.Agent.Collectors.Dmi;

/// <summary>
/// node_exporter's dmi collector: <c>node_dmi_info{bios_date,...,system_vendor} 1</c>, one label per attribute of
/// <c>/sys/class/dmi/id</c> that exists and is readable (serials are root-only), invalid UTF-8 replaced by U+FFFD.
/// </summary>
/// <remarks>
/// DMI does not change until a reboot, so the directory is read once (the first update that succeeds); later updates
/// only republish. Background every 60 s, to keep even that one read out of a scrape. As procfs v0.8.0: only regular
/// files count, a permission error skips the attribute, any other read error fails (node_exporter then refuses to
/// start; we fail the collector and try again next interval). No <c>/sys/class/dmi/id</c> (most ARM and virtual
/// machines without SMBIOS): no series, success (node_exporter: ErrNoData).
/// </remarks>
internal sealed class DmiCollector : ICollector
{
    private const int SysReadFileBytes = 128;

    /// <summary>sysfs file name to label name; the label names in node_exporter's (sorted) order.</summary>
    private static readonly (string File, string Label)[] Attributes =
    [
        ("bios_date", "bios_date"), ("bios_release", "bios_release"), ("bios_vendor", "bios_vendor"), ("bios_version", "bios_version"),
        ("board_asset_tag", "board_asset_tag"), ("board_name", "board_name"), ("board_serial", "board_serial"), ("board_vendor", "board_vendor"),
        ("board_version", "board_version"), ("chassis_asset_tag", "chassis_asset_tag"), ("chassis_serial", "chassis_serial"),
        ("chassis_vendor", "chassis_vendor"), ("chassis_version", "chassis_version"), ("product_family", "product_family"),
        ("product_name", "product_name"), ("product_serial", "product_serial"), ("product_sku", "product_sku"), ("product_uuid", "product_uuid"),
        ("product_version", "product_version"), ("sys_vendor", "system_vendor"),
    ];

    private readonly ILogger _logger;
    private readonly MetricGroup _group;
    private readonly string _directory;
    private MetricFamily? _info;
    private string[]? _values;
    private bool _loggedMissing;

    public DmiCollector(CollectorContext context)
    {
        _logger = context.Logger;
        _group = context.Group;
        _directory = context.Paths.Sys("class/dmi/id");
    }

    public static CollectorDescriptor Descriptor { get; } = new(
        "dmi", "Desktop Management Interface (DMI) information from /sys/class/dmi/id, read once.", true, Cadence.Background, TimeSpan.FromSeconds(60),
        c => new DmiCollector(c), []);

    public void Update(CancellationToken cancellationToken)
    {
        if (_values is null)
        {
            if (!Directory.Exists(_directory))
            {
                SourceLog.MissingOnce(_logger, ref _loggedMissing, "dmi", _directory, "Platform does not support Desktop Management Interface (DMI) information");
                return;
            }

            var found = Read(_directory);
            var labels = Attributes.Where(a => found.ContainsKey(a.File)).ToArray();
            _values = labels.Select(a => found[a.File]).ToArray();
            if (_values.Length > 0)
            {
                _info = _group.Gauge(
                    "node_dmi_info",
                    "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
                    labels.Select(a => a.Label).ToArray());
            }
        }

        _info?.Get(_values).Set(1);
    }

    /// <summary>The readable regular files of the directory, as procfs' DMIClass reads them (one 128-byte read, trimmed).</summary>
    internal static Dictionary<string, string> Read(string directory)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var buffer = new byte[SysReadFileBytes];
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(path);
            if (name is "modalias" or "uevent" || new FileInfo(path).LinkTarget is not null)
            {
                continue;
            }

            int n;
            try
            {
                ReadTracker.Note(path);
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                n = RandomAccess.Read(handle, buffer, 0);
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            values[name] = ToValidUtf8(TrimSpace(buffer.AsSpan(0, Math.Max(n, 0))));
        }

        return values;
    }

    private static ReadOnlySpan<byte> TrimSpace(ReadOnlySpan<byte> bytes) => bytes.Trim(" \t\n\v\f\r"u8);

    /// <summary>Go's <c>strings.ToValidUTF8(s, "\uFFFD")</c>: each run of invalid bytes becomes one U+FFFD.</summary>
    internal static string ToValidUtf8(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length);
        var inInvalidRun = false;
        while (!bytes.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (status == OperationStatus.Done)
            {
                text.Append(rune.ToString());
                inInvalidRun = false;
            }
            else
            {
                if (!inInvalidRun)
                {
                    text.Append('\uFFFD');
                }

                inInvalidRun = true;
            }

            bytes = bytes[Math.Max(consumed, 1)..];
        }

        return text.ToString();
    }
}
