using Monitor.Core.Exposition;
using static Monitor.Testing.Exposition;

namespace Monitor.Core.Tests.Exposition;

public sealed class MetricRegistryTests
{
    [Fact]
    public void WriteTo_Text_RendersFamiliesSortedWithOneHeaderEach()
    {
        var a = new MetricGroup("a");
        var zeta = a.Gauge("zeta_bytes", "Zeta.");
        var requests = a.Counter("http_requests_total", "Requests.", "method", "code");
        var b = new MetricGroup("b");
        var temp = b.Untyped("alpha_temp", "Alpha.");
        var registry = RegistryOf(a, b);

        zeta.Get().Set(14933760);
        requests.Get("GET", "200").Set(3);
        requests.Get("POST", "500").Set(0.5);
        requests.Get("GET", "404").Set(1);
        temp.Get().Set(-1.5e-7);

        Assert.Equal(
            """
            # HELP alpha_temp Alpha.
            # TYPE alpha_temp untyped
            alpha_temp -1.5e-07
            # HELP http_requests_total Requests.
            # TYPE http_requests_total counter
            http_requests_total{code="200",method="GET"} 3
            http_requests_total{code="404",method="GET"} 1
            http_requests_total{code="500",method="POST"} 0.5
            # HELP zeta_bytes Zeta.
            # TYPE zeta_bytes gauge
            zeta_bytes 1.493376e+07

            """.ReplaceLineEndings("\n"),
            Render(registry));
    }

    [Theory]
    [InlineData(ExpositionFormat.Text004)]
    [InlineData(ExpositionFormat.OpenMetrics100)]
    public void Pin_PartsWrittenInOrder_AreWhatWriteToWrites(ExpositionFormat format)
    {
        var groups = Enumerable.Range(0, 3).Select(g => new MetricGroup($"g{g}")).ToArray();
        for (var i = 0; i < 30; i++)
        {
            var family = groups[i % 3].Counter($"m_{i:D2}_total", $"Family {i}.", "n");
            for (var n = 0; n < i; n++)
            {
                family.Get(n.ToString(System.Globalization.CultureInfo.InvariantCulture)).Set(n);
            }
        }

        groups[1].SetRaw(new RawExposition("raw_text 1\n"u8.ToArray(), "raw_open 1\n"u8.ToArray()));
        var registry = RegistryOf(groups);
        var whole = Render(registry, format);

        using var pinned = registry.Pin();
        Assert.Equal(30, pinned.FamilyCount);
        foreach (var split in new[] { 0, 1, 17, 30 })
        {
            using var parts = new PooledBufferWriter();
            pinned.WriteFamilies(parts, format, 0, split);
            pinned.WriteFamilies(parts, format, split, pinned.FamilyCount);
            pinned.WriteEnd(parts, format);
            Assert.Equal(whole, System.Text.Encoding.UTF8.GetString(parts.WrittenSpan));
        }

        Assert.Contains(format == ExpositionFormat.Text004 ? "raw_text 1\n" : "raw_open 1\n# EOF\n", whole, StringComparison.Ordinal);
    }

    [Fact]
    public void Pin_HoldsTheValuesPublishedBeforeIt_UntilDisposed()
    {
        var g = new MetricGroup("g");
        var reads = g.Counter("reads_total", "Reads.");
        var registry = RegistryOf(g);
        g.BeginUpdate();
        reads.Get().Set(1);
        g.EndUpdate();

        string Part(MetricRegistry.PinnedExposition pinned)
        {
            using var buffer = new PooledBufferWriter();
            pinned.WriteFamilies(buffer, ExpositionFormat.Text004, 0, pinned.FamilyCount);
            return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        var pinned = registry.Pin();
        g.BeginUpdate();
        reads.Get().Set(2);
        g.EndUpdate();
        Assert.Contains("reads_total 1\n", Part(pinned), StringComparison.Ordinal);
        pinned.Dispose();

        Assert.Throws<ObjectDisposedException>(() => Part(pinned));
        Assert.Contains("reads_total 2\n", Render(registry), StringComparison.Ordinal);
    }

    [Fact]
    public void WriteTo_FamiliesDeclaredAfterRegistration_RenderInNameOrder()
    {
        var a = new MetricGroup("a");
        a.Gauge("m_f", "F.").Get().Set(6);
        var b = new MetricGroup("b");
        var registry = RegistryOf(a, b);

        // Declared one at a time into registered groups, out of order and alternating groups, as collectors do at start.
        foreach (var (group, name) in new[] { (a, "m_c"), (b, "m_a"), (a, "m_e"), (b, "m_g"), (b, "m_b"), (a, "m_d") })
        {
            group.Gauge(name, "H.").Get().Set(1);
        }

        string[] expected = ["m_a", "m_b", "m_c", "m_d", "m_e", "m_f", "m_g"];
        Assert.Equal(expected, registry.Families.Select(f => f.Name));
        Assert.Equal(expected, Render(registry).Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public void WriteTo_OpenMetrics_NamesCounterFamilyWithoutTotalAndEndsWithEof()
    {
        var g = new MetricGroup("g");
        g.Counter("node_cpu_seconds_total", "CPU \"time\".", "cpu").Get("0").Set(12.5);
        g.Gauge("node_load1", "Load.").Get().Set(1);
        g.Untyped("odd", "Odd.").Get().Set(double.NaN);
        var registry = RegistryOf(g);

        Assert.Equal(
            """
            # HELP node_cpu_seconds CPU \"time\".
            # TYPE node_cpu_seconds counter
            node_cpu_seconds_total{cpu="0"} 12.5
            # HELP node_load1 Load.
            # TYPE node_load1 gauge
            node_load1 1
            # HELP odd Odd.
            # TYPE odd unknown
            odd NaN
            # EOF

            """.ReplaceLineEndings("\n"),
            Render(registry, ExpositionFormat.OpenMetrics100));
    }

    [Fact]
    public void WriteTo_EscapesLabelValuesAndHelpPerFormat()
    {
        var g = new MetricGroup("g");
        g.Gauge("x", "a \\ b\nc \"q\"", "l").Get("back\\slash \"quote\"\nnewline").Set(1);
        var registry = RegistryOf(g);

        Assert.Equal(
            "# HELP x a \\\\ b\\nc \"q\"\n# TYPE x gauge\nx{l=\"back\\\\slash \\\"quote\\\"\\nnewline\"} 1\n",
            Render(registry));
        Assert.Equal(
            "# HELP x a \\\\ b\\nc \\\"q\\\"\n# TYPE x gauge\nx{l=\"back\\\\slash \\\"quote\\\"\\nnewline\"} 1\n# EOF\n",
            Render(registry, ExpositionFormat.OpenMetrics100));
    }

    [Fact]
    public void WriteTo_LabelsDeclaredOutOfOrder_SortedByNameAndSeriesByValue()
    {
        var g = new MetricGroup("g");
        var f = g.Gauge("m", "M.", "zone", "app", "mid");
        f.Get("z2", "b", "x").Set(1);
        f.Get("z1", "b", "x").Set(2);
        f.Get("z9", "a", "x").Set(3);
        var registry = RegistryOf(g);

        Assert.Equal(
            "# HELP m M.\n# TYPE m gauge\nm{app=\"a\",mid=\"x\",zone=\"z9\"} 3\nm{app=\"b\",mid=\"x\",zone=\"z1\"} 2\nm{app=\"b\",mid=\"x\",zone=\"z2\"} 1\n",
            Render(registry));
    }

    [Fact]
    public void WriteTo_FamilyWithoutValues_IsOmitted()
    {
        var g = new MetricGroup("g");
        g.Gauge("empty", "No series.");
        g.Gauge("unset", "Series never set.", "l").Get("a");
        g.Gauge("set", "Set.").Get().Set(2);
        var registry = RegistryOf(g);

        Assert.Equal("# HELP set Set.\n# TYPE set gauge\nset 2\n", Render(registry));
        Assert.Equal("# HELP set Set.\n# TYPE set gauge\nset 2\n# EOF\n", Render(registry, ExpositionFormat.OpenMetrics100));
    }

    [Fact]
    public void EndUpdate_SeriesNotTouched_AreRemoved()
    {
        var g = new MetricGroup("disks");
        var reads = g.Counter("node_disk_reads_completed_total", "Reads.", "device");
        var registry = RegistryOf(g);

        g.BeginUpdate();
        reads.Get("sda").Set(1);
        reads.Get("sdb").Set(2);
        g.EndUpdate();
        Assert.Contains("device=\"sdb\"", Render(registry), StringComparison.Ordinal);

        g.BeginUpdate();
        reads.Get("sda").Set(5);
        g.EndUpdate();

        Assert.Equal(
            "# HELP node_disk_reads_completed_total Reads.\n# TYPE node_disk_reads_completed_total counter\nnode_disk_reads_completed_total{device=\"sda\"} 5\n",
            Render(registry));
    }

    [Fact]
    public void EndUpdate_KeptSeriesSetDirectly_SurvivesAndComesBackAfterRemoval()
    {
        var g = new MetricGroup("gpu");
        var power = g.Gauge("gpu_power_watts", "Power.", "gpu");
        var registry = RegistryOf(g);
        var gpu0 = power.Get("0");

        // A collector that keeps its Series and only calls Set must not lose it at EndUpdate.
        g.BeginUpdate();
        gpu0.Set(250);
        g.EndUpdate();
        Assert.Contains("gpu_power_watts{gpu=\"0\"} 250\n", Render(registry), StringComparison.Ordinal);

        // The GPU drops out for one update, then comes back.
        g.BeginUpdate();
        g.EndUpdate();
        Assert.Equal(string.Empty, Render(registry));

        g.BeginUpdate();
        gpu0.Set(300);
        g.EndUpdate();
        Assert.Equal("# HELP gpu_power_watts Power.\n# TYPE gpu_power_watts gauge\ngpu_power_watts{gpu=\"0\"} 300\n", Render(registry));
        Assert.Same(gpu0, power.Get("0"));
    }

    [Fact]
    public void Get_SameLabelsThroughEveryOverload_ReturnsSameSeries()
    {
        var g = new MetricGroup("g");
        var one = g.Gauge("one", "h", "a");
        var three = g.Gauge("three", "h", "a", "b", "c");
        Assert.Same(one.Get("x".AsSpan()), one.Get(["x"]));
        Assert.Same(three.Get("x".AsSpan(), "y".AsSpan(), "z".AsSpan()), three.Get(["x", "y", "z"]));
        Assert.NotSame(three.Get(["x", "y", "z"]), three.Get(["x", "yz", ""]));
        var longValue = new string('v', 1000);
        Assert.Same(three.Get([longValue, "y", "z"]), three.Get(longValue.AsSpan(), "y".AsSpan(), "z".AsSpan()));
    }

    [Fact]
    public void Get_WrongLabelCount_Throws()
    {
        var f = new MetricGroup("g").Gauge("m", "h", "a", "b");
        Assert.Throws<ArgumentException>(() => f.Get(["only"]));
    }

    [Fact]
    public void Counter_NameWithoutTotal_Throws() =>
        Assert.Throws<ArgumentException>(() => new MetricGroup("g").Counter("requests", "h"));

    [Fact]
    public void Register_GaugeNamedLikeCounterOpenMetricsFamily_Throws()
    {
        var a = new MetricGroup("a");
        a.Counter("foo_total", "h");
        var b = new MetricGroup("b");
        b.Gauge("foo", "h");
        var registry = RegistryOf(a);

        Assert.Throws<ArgumentException>(() => registry.Register(b));
        Assert.Throws<ArgumentException>(() => a.Gauge("foo", "h"));
        Assert.Single(registry.Families);
    }

    [Fact]
    public void Gauge_AddedToRegisteredGroupWithTakenName_ThrowsAndIsNotRendered()
    {
        var a = new MetricGroup("a");
        var b = new MetricGroup("b");
        var registry = RegistryOf(a, b);
        a.Gauge("shared", "h").Get().Set(1);

        Assert.Throws<ArgumentException>(() => b.Gauge("shared", "other"));
        Assert.Empty(b.Families);
        Assert.Equal("# HELP shared h\n# TYPE shared gauge\nshared 1\n", Render(registry));
    }
}
