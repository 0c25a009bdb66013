namespace Monitor.Agent.Collectors.Hwmon;

/// <summary>How a raw hwmon value becomes the exported value.</summary>
internal enum HwmonConversion
{
    /// <summary>As read (rpm, pwm, alarms).</summary>
    None,

    /// <summary><c>× 0.001</c>: milli-units (mV, m°C, mA, ms) to base units, the same operation as node_exporter.</summary>
    Milli,

    /// <summary><c>÷ 1e6</c>: micro-units (µW, µJ) to base units.</summary>
    Micro,

    /// <summary><c>beep_enable</c>: 1 when the text is exactly <c>1</c>, otherwise 0.</summary>
    BeepEnable,
}

/// <summary>The family one hwmon attribute is exported as.</summary>
/// <param name="Name">Metric name.</param>
/// <param name="Help">HELP text, exactly node_exporter's.</param>
/// <param name="IsCounter">True for <c>energy</c> (a counter); all else are gauges.</param>
/// <param name="Conversion">Unit conversion.</param>
internal sealed record HwmonMetricRule(string Name, string Help, bool IsCounter, HwmonConversion Conversion)
{
    /// <summary>
    /// node_exporter 1.5.0's naming of one sensor element (<c>updateHwmon</c> in hwmon_linux.go), or null when the
    /// element is not exported. <paramref name="hasBareValue"/> says whether the sensor also has a file with no
    /// property (e.g. <c>in0</c> beside <c>in0_input</c>), which makes <c>input</c> a separate <c>_input</c> family.
    /// </summary>
    public static HwmonMetricRule? For(string sensorType, string element, bool hasBareValue)
    {
        switch (sensorType)
        {
            case "beep_enable":
                return element.Length == 0 ? new("node_hwmon_beep_enabled", "Hardware beep enabled", false, HwmonConversion.BeepEnable) : null;
            case "vrm":
                return element.Length == 0 ? new("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", false, HwmonConversion.None) : null;
            case "update_interval":
                return element.Length == 0 ? new("node_hwmon_update_interval_seconds", "Hardware monitor update interval", false, HwmonConversion.Milli) : null;
        }

        if (element == "label")
        {
            return null;
        }

        var name = "node_hwmon_" + sensorType;
        if (element == "input")
        {
            if (hasBareValue)
            {
                name += "_input";
            }
        }
        else if (element.Length != 0)
        {
            name += "_" + HwmonParser.CleanName(element);
        }

        if (element is "fault" or "alarm")
        {
            return new(name, $"Hardware sensor {element} status ({sensorType})", false, HwmonConversion.None);
        }

        if (element == "beep")
        {
            return new(name + "_enabled", "Hardware monitor sensor has beeping enabled", false, HwmonConversion.None);
        }

        if (sensorType is "in" or "cpu")
        {
            return new(name + "_volts", $"Hardware monitor for voltage ({element})", false, HwmonConversion.Milli);
        }

        if (sensorType == "temp" && element != "type")
        {
            var shown = element.Length == 0 ? "input" : element;
            return new(name + "_celsius", $"Hardware monitor for temperature ({shown})", false, HwmonConversion.Milli);
        }

        switch (sensorType)
        {
            case "curr":
                return new(name + "_amps", $"Hardware monitor for current ({element})", false, HwmonConversion.Milli);
            case "energy":
                return new(name + "_joule_total", $"Hardware monitor for joules used so far ({element})", true, HwmonConversion.Micro);
            case "power" when element == "accuracy":
                return new(name, "Hardware monitor power meter accuracy, as a ratio", false, HwmonConversion.Micro);
            case "power" when element is "average_interval" or "average_interval_min" or "average_interval_max":
                return new(name + "_seconds", $"Hardware monitor power usage update interval ({element})", false, HwmonConversion.Milli);
            case "power":
                return new(name + "_watt", $"Hardware monitor for power usage in watts ({element})", false, HwmonConversion.Micro);
            case "humidity":
                return new(name, $"Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})", false, HwmonConversion.Micro);
            case "fan" when element is "input" or "min" or "max" or "target":
                return new(name + "_rpm", $"Hardware monitor for fan revolutions per minute ({element})", false, HwmonConversion.None);
            default:
                return new(name, $"Hardware monitor {sensorType} element {element}", false, HwmonConversion.None);
        }
    }

    /// <summary>Applies <see cref="Conversion"/> to an attribute's text; false when it is not a number.</summary>
    public bool TryConvert(ReadOnlySpan<char> text, out double value)
    {
        if (Conversion == HwmonConversion.BeepEnable)
        {
            value = text.TrimEnd('\n') is "1" ? 1 : 0;
            return true;
        }

        var parsed = HwmonParser.ParseValue(text);
        value = Conversion switch
        {
            HwmonConversion.Milli => parsed.Value * 0.001,
            HwmonConversion.Micro => parsed.Value / 1000000.0,
            _ => parsed.Value,
        };
        return parsed.Success;
    }
}
