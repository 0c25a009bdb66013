namespace Monitor.Agent.Collectors.Hwmon;

/// <summary>
/// The read plan of one <c>/sys/class/hwmon/hwmonN</c> chip, built once when the chip appears: its <c>chip</c>
/// label, its human-readable name, and for every attribute file the family, sensor and conversion. An update then
/// only reads each file once and sets a series.
/// </summary>
internal sealed class HwmonChip
{
    public HwmonChip(string name, string? humanName, IReadOnlyList<HwmonReading> readings, IReadOnlyList<(string Sensor, string Path)> labels)
    {
        Name = name;
        HumanName = humanName;
        Readings = readings;
        Labels = labels;
    }

    /// <summary>The <c>chip</c> label (e.g. <c>platform_coretemp_0</c>).</summary>
    public string Name { get; }

    /// <summary>The cleaned <c>name</c> file (<c>chip_name</c> label), or null when there is none.</summary>
    public string? HumanName { get; }

    /// <summary>Value attributes.</summary>
    public IReadOnlyList<HwmonReading> Readings { get; }

    /// <summary><c>*_label</c> attributes, exported as <c>node_hwmon_sensor_label</c>.</summary>
    public IReadOnlyList<(string Sensor, string Path)> Labels { get; }

    /// <summary>The update that last listed this chip.</summary>
    public long LastSeen { get; set; }

    /// <summary>
    /// node_exporter's <c>hwmonName</c>: preferably the device the chip hangs off (<c>&lt;bus&gt;_&lt;device&gt;</c>
    /// from the resolved <c>device</c> link), else the <c>name</c> file, else the directory name (<c>hwmonN</c>).
    /// </summary>
    public static string? ChipName(string directory)
    {
        var devicePath = RealPath.Resolve(Path.Join(directory, "device"));
        if (devicePath is not null)
        {
            var deviceName = HwmonParser.CleanName(Path.GetFileName(devicePath.AsSpan()));
            var deviceType = HwmonParser.CleanName(Path.GetFileName(Path.GetDirectoryName(devicePath.AsSpan()).TrimEnd('/')));
            if (deviceType.Length != 0 && deviceName.Length != 0)
            {
                return deviceType + "_" + deviceName;
            }

            if (deviceName.Length != 0)
            {
                return deviceName;
            }
        }

        var humanName = HumanReadableName(directory);
        if (humanName is not null)
        {
            return humanName;
        }

        var realDirectory = RealPath.Resolve(directory);
        if (realDirectory is null)
        {
            return null;
        }

        var last = HwmonParser.CleanName(Path.GetFileName(realDirectory.AsSpan()));
        return last.Length != 0 ? last : null;
    }

    /// <summary>node_exporter's <c>hwmonHumanReadableChipName</c>: the cleaned <c>name</c> file, or null.</summary>
    public static string? HumanReadableName(string directory)
    {
        try
        {
            var cleaned = HwmonParser.CleanName(File.ReadAllText(Path.Join(directory, "name")));
            return cleaned.Length != 0 ? cleaned : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>One attribute file of a chip and where its value goes.</summary>
/// <param name="Path">The attribute file.</param>
/// <param name="Sensor">The <c>sensor</c> label (<c>temp1</c>).</param>
/// <param name="Rule">Family name, HELP and conversion.</param>
/// <param name="Family">The family the value is set on.</param>
internal sealed record HwmonReading(string Path, string Sensor, HwmonMetricRule Rule, Monitor.Core.Exposition.MetricFamily Family);
