using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Exposition;

/// <summary>
/// <see cref="MetricFamily.OmitEmptyLabelValues"/>: series of one family with different label sets, as node_exporter
/// writes node_power_supply_info; off by default, where an empty value is written (node_os_info's build_id="").
/// </summary>
public sealed class OmitEmptyLabelValuesTests
{
    [Fact]
    public void On_EmptyValuesLeftOut_AllEmptyHasNoBraces()
    {
        var g = new MetricGroup("powersupplyclass");
        var info = g.Gauge("node_power_supply_info", "Info.", "power_supply", "status", "type");
        info.OmitEmptyLabelValues = true;
        var registry = RegistryOf(g);
        g.BeginUpdate();
        info.Get("AC", "", "Mains").Set(1);
        info.Get("BAT0", "Charging", "").Set(1);
        info.Get("", "", "").Set(1);
        g.EndUpdate();

        Assert.Equal(
            "# HELP node_power_supply_info Info.\n# TYPE node_power_supply_info gauge\nnode_power_supply_info 1\nnode_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1\nnode_power_supply_info{power_supply=\"BAT0\",status=\"Charging\"} 1\n",
            Render(registry));
    }

    [Fact]
    public void Off_EmptyValuesWritten()
    {
        var g = new MetricGroup("os");
        var info = g.Gauge("node_os_info", "Info.", "build_id", "id");
        var registry = RegistryOf(g);
        g.BeginUpdate();
        info.Get("", "debian").Set(1);
        g.EndUpdate();

        Assert.Equal("# HELP node_os_info Info.\n# TYPE node_os_info gauge\nnode_os_info{build_id=\"\",id=\"debian\"} 1\n", Render(registry));
    }
}
