using Monitor.Agent.Collectors.Hwmon;

namespace Monitor.Agent.Tests.Collectors.Hwmon;

public sealed class HwmonParserTests
{
    [Theory]
    [InlineData("temp1_input", "temp", 1, "input", "temp1")]
    [InlineData("in0_crit_alarm", "in", 0, "crit_alarm", "in0")]
    [InlineData("pwm1", "pwm", 1, "", "pwm1")]
    [InlineData("beep_enable", "beep_enable", 0, "", "beep_enable0")]
    [InlineData("update_interval", "update_interval", 0, "", "update_interval0")]
    [InlineData("power1_average_interval", "power", 1, "average_interval", "power1")]
    [InlineData("temp10_max", "temp", 10, "max", "temp10")]
    public void ParseSensorFileName_NodeExporterNames_SplitsLikeNodeExporter(string file, string type, int number, string property, string sensor)
    {
        var result = HwmonParser.ParseSensorFileName(file);

        Assert.True(result.Success, result.Error);
        Assert.Equal(new SensorFileName(type, number, property), result.Value);
        Assert.Equal(sensor, result.Value.Sensor);
    }

    [Theory]
    [InlineData("1temp")]
    [InlineData("")]
    [InlineData("fan1_")]
    [InlineData("temp99999999999999999999_input")]
    public void ParseSensorFileName_Malformed_Fails(string file) =>
        Assert.False(HwmonParser.ParseSensorFileName(file).Success);

    [Theory]
    [InlineData("55000\n", 55000)]
    [InlineData("-5500", -5500)]
    [InlineData("1.5", 1.5)]
    public void ParseValue_Number_Parses(string text, double expected)
    {
        var result = HwmonParser.ParseValue(text);

        Assert.True(result.Success);
        Assert.Equal(expected, result.Value);
    }

    [Theory]
    [InlineData("N/A")]
    [InlineData("")]
    [InlineData("12 34")]
    [InlineData("1,5")]
    public void ParseValue_NotANumber_FailsWithoutThrowing(string text) =>
        Assert.False(HwmonParser.ParseValue(text).Success);

    [Theory]
    [InlineData("coretemp.0", "coretemp_0")]
    [InlineData("0000:00:18.3", "0000:00:18_3")]
    [InlineData("Nct6779\n", "nct6779")]
    [InlineData("--x--", "x")]
    [InlineData("...", "")]
    public void CleanName_DeviceNames_MatchNodeExporter(string raw, string expected) =>
        Assert.Equal(expected, HwmonParser.CleanName(raw));

    [Theory]
    [InlineData("temp", "input", false, "node_hwmon_temp_celsius", "Hardware monitor for temperature (input)")]
    [InlineData("temp", "", false, "node_hwmon_temp_celsius", "Hardware monitor for temperature (input)")]
    [InlineData("in", "input", true, "node_hwmon_in_input_volts", "Hardware monitor for voltage (input)")]
    [InlineData("fan", "pulses", false, "node_hwmon_fan_pulses", "Hardware monitor fan element pulses")]
    [InlineData("energy", "input", false, "node_hwmon_energy_joule_total", "Hardware monitor for joules used so far (input)")]
    public void RuleFor_Element_NamesLikeNodeExporter(string type, string element, bool hasBare, string name, string help)
    {
        var rule = HwmonMetricRule.For(type, element, hasBare);

        Assert.NotNull(rule);
        Assert.Equal(name, rule.Name);
        Assert.Equal(help, rule.Help);
    }

    [Fact]
    public void TryConvert_MilliAndMicro_UseNodeExporterArithmetic()
    {
        Assert.True(HwmonMetricRule.For("in", "input", false)!.TryConvert("12096", out var volts));
        Assert.Equal(12096 * 0.001, volts);
        Assert.True(HwmonMetricRule.For("power", "input", false)!.TryConvert("24500000", out var watts));
        Assert.Equal(24500000 / 1000000.0, watts);
        Assert.False(HwmonMetricRule.For("temp", "input", false)!.TryConvert("N/A", out _));
    }
}
