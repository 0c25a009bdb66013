using Monitor.Agent.Collectors.Conntrack;
using Monitor.Agent.Collectors.CpuFreq;
using Monitor.Agent.Collectors.Dmi;
using Monitor.Agent.Collectors.Edac;
using Monitor.Agent.Collectors.OsRelease;
using Monitor.Agent.Collectors.Parsing;
using Monitor.Agent.Collectors.PowerSupply;
using Monitor.Agent.Collectors.Rapl;
using Monitor.Agent.Collectors.Selinux;
using Monitor.Agent.Collectors.SchedStat;
using Monitor.Agent.Collectors.Softnet;
using Monitor.Agent.Collectors.Time;
using Monitor.Agent.Collectors.Timex;
using Monitor.Agent.Collectors.UdpQueues;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.NodeA;

/// <summary>
/// conntrack, softnet, udp_queues, schedstat, cpufreq, time, timex, os, selinux, dmi, powersupplyclass, edac and
/// rapl: each against node_exporter 1.5.0's golden over tests/fixtures/host (where the source is a file), and against
/// bad, truncated and missing files, each asserting node_exporter's behaviour.
/// </summary>
public sealed class NodeCollectorsATests : IDisposable
{
    private const string ConntrackHeader =
        "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

    private readonly TempTree _tree = new();

    public void Dispose() => _tree.Dispose();

    // ---- conntrack ----

    [Fact]
    public void Conntrack_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(ConntrackCollector.Descriptor);

    [Fact]
    public void Conntrack_NotLoaded_NoSeriesAndNoFailure()
    {
        var text = CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Scrape();
        Assert.DoesNotContain("node_nf_conntrack", text.Split('\n').Where(l => !l.StartsWith('#')));
    }

    [Fact]
    public void Conntrack_NoStatFile_KeepsEntriesAndLimit()
    {
        _tree.Write("proc/sys/net/netfilter/nf_conntrack_count", "5\n").Write("proc/sys/net/netfilter/nf_conntrack_max", "10\n");
        var text = CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_nf_conntrack_entries 5\n", text, StringComparison.Ordinal);
        Assert.Contains("node_nf_conntrack_entries_limit 10\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_nf_conntrack_stat_found ", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_count", "lots\n")]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_count", "")]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_max", "-1\n")]
    [InlineData("proc/net/stat/nf_conntrack", ConntrackHeader + "00000021 00000000 0000zz00 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n")]
    [InlineData("proc/net/stat/nf_conntrack", ConntrackHeader + "00000021 00000000 00000000 00000000 00000003\n")]
    [InlineData("proc/net/stat/nf_conntrack", ConntrackHeader + "\n00000021 00000000 00000000 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n")]
    public void Conntrack_Malformed_FailsTheCollectorNamingTheFile(string file, string content)
    {
        WriteConntrack();
        _tree.Write(file, content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Update());
        Assert.Equal(_tree.Path(file), error.SourcePath);
    }

    [Fact]
    public void Conntrack_UnusedColumnNotHex_IsIgnoredAsProcfsDoes()
    {
        WriteConntrack();
        _tree.Write("proc/net/stat/nf_conntrack", ConntrackHeader + "00000021 zz 00000001 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 0000000a\n");
        var text = CollectorHarness.ForTree(ConntrackCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_nf_conntrack_stat_found 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_nf_conntrack_stat_search_restart 10\n", text, StringComparison.Ordinal);
    }

    // ---- softnet ----

    [Fact]
    public void Softnet_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(SoftnetCollector.Descriptor);

    [Theory]
    [InlineData("00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000\n")]             // 8 columns
    [InlineData("0004927z 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000\n")]    // not hex
    [InlineData("100000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000\n")]   // over 32 bits
    [InlineData("00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000\n\n00000001 0 0 0 0 0 0 0 0\n")] // empty row
    public void Softnet_Malformed_FailsTheCollector(string content)
    {
        _tree.Write("proc/net/softnet_stat", content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(SoftnetCollector.Descriptor, _tree.Root).Update());
        Assert.Equal(_tree.Path("proc/net/softnet_stat"), error.SourcePath);
    }

    [Fact]
    public void Softnet_Missing_FailsTheCollector() =>
        Assert.Throws<DirectoryNotFoundException>(() => CollectorHarness.ForTree(SoftnetCollector.Descriptor, _tree.Root).Update());

    [Fact]
    public void Softnet_LaterColumnsAreNotParsed_CpuIsTheRowIndex()
    {
        _tree.Write("proc/net/softnet_stat", "0000000a 00000001 00000002 x x x x x x\n0000000b 00000000 00000000 0 0 0 0 0 0 0 0 0 0");
        var text = CollectorHarness.ForTree(SoftnetCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_softnet_processed_total{cpu=\"0\"} 10\n", text, StringComparison.Ordinal);
        Assert.Contains("node_softnet_processed_total{cpu=\"1\"} 11\n", text, StringComparison.Ordinal);
    }

    // ---- udp_queues ----

    [Fact]
    public void UdpQueues_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(UdpQueuesCollector.Descriptor);

    [Fact]
    public void UdpQueues_NoUdp6_OnlyV4()
    {
        _tree.CopyFromHostFixture("proc/net/udp");
        var text = CollectorHarness.ForTree(UdpQueuesCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_udp_queues{ip=\"v4\",queue=\"tx\"} 21\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("v6", text, StringComparison.Ordinal);
    }

    [Fact]
    public void UdpQueues_NeitherFile_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_udp_queues{", CollectorHarness.ForTree(UdpQueuesCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Theory]
    [InlineData("   0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0\n")]          // 9 columns
    [InlineData("   0: 00000000:0016 00000000:0000 0A 0000001g:00000000 00:00000000 00000000     0        0 2740 1\n")]   // bad tx
    [InlineData("   0: 00000000:0016 00000000:0000 0A 00000015-00000000 00:00000000 00000000     0        0 2740 1\n")]   // no colon
    [InlineData("   0: 000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0 2740 1\n")]      // 3-byte address
    [InlineData("   0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     x        0 2740 1\n")]   // bad uid
    [InlineData("   0: 00000000:0016 00000000:0000 0A 00000015:00000000 00:00000000 00000000     0        0 -1 1\n")]     // bad inode
    [InlineData("\n")]                                                                                                  // empty line
    public void UdpQueues_MalformedLine_FailsTheCollector(string line)
    {
        _tree.Write("proc/net/udp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" + line);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(UdpQueuesCollector.Descriptor, _tree.Root).Update());
        Assert.Equal(_tree.Path("proc/net/udp"), error.SourcePath);
    }

    [Fact]
    public void UdpQueues_LargeFile_StreamedAcrossChunks()
    {
        // 20,000 sockets, about 3 MB: more than one chunk and more than TextFileReader's 1 MiB cap.
        var lines = new System.Text.StringBuilder("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n");
        for (var i = 0; i < 20000; i++)
        {
            lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i,5}: 0100007F:{i:X4} 00000000:0000 07 00000001:00000002 00:00000000 00000000     0        0 {i + 1000} 2 ffff88003d3af3c0 100 0 0 10 0\n");
        }

        _tree.Write("proc/net/udp", lines.ToString());
        var text = CollectorHarness.ForTree(UdpQueuesCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_udp_queues{ip=\"v4\",queue=\"tx\"} 20000\n", text, StringComparison.Ordinal);
        Assert.Contains("node_udp_queues{ip=\"v4\",queue=\"rx\"} 40000\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", 0UL)]
    [InlineData("1000", 1000UL)]
    [InlineData("0x1f", 31UL)]
    [InlineData("017", 15UL)]
    [InlineData("0b101", 5UL)]
    public void GoUInt_Base0_AsGoParses(string text, ulong expected)
    {
        Assert.True(GoUInt.TryParseBase0(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("08")]
    [InlineData("0x")]
    [InlineData("-1")]
    [InlineData("18446744073709551616")]
    public void GoUInt_Base0_RejectsWhatGoRejects(string text) => Assert.False(GoUInt.TryParseBase0(text, out _));

    // ---- schedstat ----

    [Fact]
    public void SchedStat_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(SchedStatCollector.Descriptor);

    [Fact]
    public void SchedStat_Missing_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_schedstat_running_seconds_total{", CollectorHarness.ForTree(SchedStatCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Fact]
    public void SchedStat_BadOrShortLines_AreSkippedAsProcfsSkipsThem()
    {
        _tree.Write("proc/schedstat", "version 15\ncpu0 1 2 3 4 5 6 2000000000 3000000000 7\ncpu1 1 2 3\ncpu2 1 2 3 4 5 6 99999999999999999999 1 1\ncpu3 a b c d e f g h i\ncpu4 1 2 3 4 5 6 7 8 9");
        var text = CollectorHarness.ForTree(SchedStatCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_schedstat_running_seconds_total{cpu=\"0\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("node_schedstat_waiting_seconds_total{cpu=\"0\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("node_schedstat_timeslices_total{cpu=\"4\"} 9\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cpu=\"1\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cpu=\"2\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cpu=\"3\"", text, StringComparison.Ordinal);
    }

    // ---- cpufreq ----

    [Fact]
    public void CpuFreq_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(CpuFreqCollector.Descriptor);

    [Fact]
    public void CpuFreq_NoCpufreqDirectory_CpuSkippedWithoutFailure()
    {
        WriteCpuFreq("cpu0");
        _tree.Write("sys/devices/system/cpu/cpu1/topology/core_id", "1\n");
        var text = CollectorHarness.ForTree(CpuFreqCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_cpu_scaling_frequency_hertz{cpu=\"0\"} 1.5e+09\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cpu=\"1\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_cpu_frequency_hertz{", text, StringComparison.Ordinal); // no cpuinfo_cur_freq: no series
    }

    [Theory]
    [InlineData("scaling_cur_freq", "fast\n")]
    [InlineData("scaling_max_freq", "")]
    [InlineData("cpuinfo_min_freq", "-1\n")]
    [InlineData("cpuinfo_transition_latency", "soon\n")]
    [InlineData("scaling_driver", null)]       // a string attribute procfs requires, missing
    [InlineData("related_cpus", null)]
    public void CpuFreq_BadCpu_OnlyThatCpuIsSkipped(string file, string? content)
    {
        WriteCpuFreq("cpu0");
        WriteCpuFreq("cpu1");
        if (content is null)
        {
            _tree.Delete($"sys/devices/system/cpu/cpu1/cpufreq/{file}");
        }
        else
        {
            _tree.Write($"sys/devices/system/cpu/cpu1/cpufreq/{file}", content);
        }

        var harness = CollectorHarness.ForTree(CpuFreqCollector.Descriptor, _tree.Root);
        var text = harness.Scrape();
        Assert.Contains("node_cpu_scaling_frequency_hertz{cpu=\"0\"} 1.5e+09\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cpu=\"1\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cpu=\"1\"", harness.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void CpuFreq_NoCpuDirectory_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("hertz{", CollectorHarness.ForTree(CpuFreqCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    private void WriteCpuFreq(string cpu)
    {
        var dir = $"sys/devices/system/cpu/{cpu}/cpufreq/";
        _tree.Write(dir + "scaling_cur_freq", "1500000\n").Write(dir + "scaling_min_freq", "800000\n").Write(dir + "scaling_max_freq", "3000000\n")
            .Write(dir + "cpuinfo_min_freq", "800000\n").Write(dir + "cpuinfo_max_freq", "3000000\n").Write(dir + "cpuinfo_transition_latency", "0\n")
            .Write(dir + "scaling_available_governors", "performance powersave\n").Write(dir + "scaling_driver", "intel_pstate\n")
            .Write(dir + "scaling_governor", "powersave\n").Write(dir + "related_cpus", "0\n").Write(dir + "scaling_setspeed", "<unsupported>\n");
    }

    // ---- time, timex ----

    [Fact]
    public void Time_HostFixture_ClocksourcesMatchNodeExporterGolden() =>
        // The clock and zone are this machine's (TimeTests compares them with node_exporter live); the golden leaves them out.
        HostGolden.AssertMatches(TimeCollector.Descriptor, beyondPeer: ["node_time_seconds", "node_time_zone_offset_seconds"]);

    [Fact]
    public void Time_ClockFromTheTimeProvider_ClocksourceDeviceIsTheSortedPosition()
    {
        _tree.Write("sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet\n")
            .Write("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n")
            .Write("sys/devices/system/clocksource/clocksource7/available_clocksource", "kvm-clock\n")
            .Write("sys/devices/system/clocksource/clocksource7/current_clocksource", "kvm-clock\n");
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_250));
        var text = new CollectorHarness(TimeCollector.Descriptor, new Monitor.Agent.Configuration.HostPaths(_tree.Path("proc"), _tree.Path("sys"), _tree.Root), time: time).Scrape();
        // node_exporter's float64(UnixNano()) / 1e9: the nanoseconds round to a double first, so not exactly ...0.25.
        Assert.Equal(1_700_000_000_250_000_000L / 1e9, PromSamples.Parse(text)["node_time_seconds"]);
        Assert.Contains("node_time_clocksource_current_info{clocksource=\"kvm-clock\",device=\"1\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_time_clocksource_available_info{clocksource=\"hpet\",device=\"0\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_time_zone_offset_seconds{time_zone=\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_NoClocksources_OnlyTheClock()
    {
        var text = CollectorHarness.ForTree(TimeCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_time_seconds ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_time_clocksource_current_info{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_ClocksourceWithoutCurrent_FailsTheCollectorAsProcfs()
    {
        _tree.Write("sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet\n");
        Assert.Throws<FileNotFoundException>(() => CollectorHarness.ForTree(TimeCollector.Descriptor, _tree.Root).Update());
    }

    [Fact]
    public void Timex_ReadsThisMachine_AllSeventeenFamilies()
    {
        var text = CollectorHarness.ForTree(TimexCollector.Descriptor, _tree.Root).Scrape();
        Assert.Equal(17, text.Split('\n').Count(l => l.StartsWith("node_timex_", StringComparison.Ordinal)));
        Assert.Contains("node_timex_tick_seconds 0.01\n", text, StringComparison.Ordinal); // USER_HZ 100: 10000 us
    }

    // ---- os, selinux ----

    [Fact]
    public void Os_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(OsReleaseCollector.Descriptor);

    [Fact]
    public void Os_EtcWinsOverUsrLib_AndAChangedFileIsReadAgain()
    {
        _tree.CopyFromHostFixture("usr/lib/os-release").Write("etc/os-release", "NAME='Debian GNU/Linux'\nID=debian\nVERSION_ID=\"12\"\n");
        var harness = CollectorHarness.ForTree(OsReleaseCollector.Descriptor, _tree.Root);
        var text = harness.Scrape();
        Assert.Contains("node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"} 12\n", text, StringComparison.Ordinal);
        _tree.Write("etc/os-release", "NAME=Rocky\nID=rocky\nVERSION_ID=9.3\n");
        File.SetLastWriteTimeUtc(_tree.Path("etc/os-release"), DateTime.UtcNow.AddMinutes(1));
        Assert.Contains("node_os_version{id=\"rocky\",id_like=\"\",name=\"Rocky\"} 9.3\n", harness.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void Os_NoVersionId_InfoWithoutVersion()
    {
        _tree.Write("etc/os-release", "NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling # comment\n");
        var text = CollectorHarness.ForTree(OsReleaseCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("build_id=\"rolling\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_os_version{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Os_NoFile_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_os_info{", CollectorHarness.ForTree(OsReleaseCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Theory]
    [InlineData("NAME=\"Ubuntu\nID=ubuntu\n")]    // unterminated quote
    [InlineData("this is not an assignment\n")]
    [InlineData("1NAME=x\n")]
    [InlineData("NAME=a b\n")]
    public void Os_Malformed_FailsTheCollectorNamingTheFile(string content)
    {
        _tree.Write("etc/os-release", content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(OsReleaseCollector.Descriptor, _tree.Root).Update());
        Assert.Equal(_tree.Path("etc/os-release"), error.SourcePath);
    }

    [Theory]
    [InlineData("20.04", 20.04)]
    [InlineData("9", 9.0)]
    [InlineData("7.9.2009", 7.9)]
    [InlineData("rolling", 0.0)]
    [InlineData("", 0.0)]
    public void Os_MajorMinor_AsNodeExportersRegex(string versionId, double expected) => Assert.Equal(expected, OsReleaseCollector.MajorMinor(versionId));

    [Fact]
    public void Selinux_ThisMachine_EnabledIsZeroOrOne()
    {
        // This machine's state (SelinuxTests compares it with node_exporter); the fixture tree does not change it.
        var samples = PromSamples.Parse(CollectorHarness.ForTree(SelinuxCollector.Descriptor, _tree.Root).Scrape());
        Assert.Contains(samples["node_selinux_enabled"], new[] { 0.0, 1.0 });
        Assert.Equal(samples["node_selinux_enabled"] == 1 ? 3 : 1, samples.Keys.Count(k => k.StartsWith("node_selinux_", StringComparison.Ordinal)));
    }

    // ---- rapl ----

    [Fact]
    public void Rapl_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(RaplCollector.Descriptor);

    [Fact]
    public void Rapl_ZoneLabelFlag_OneFamily()
    {
        WriteRaplZone("intel-rapl:0", "package-0", 5_000_000).WriteRaplZone("intel-rapl:1", "package-1", 7_000_000).WriteRaplZone("intel-rapl:0:0", "dram", 1_000_000);
        var text = CollectorHarness.ForTree(RaplCollector.Descriptor, _tree.Root, new Dictionary<string, string?> { ["enable-zone-label"] = "true" }).Scrape();
        Assert.Contains($"node_rapl_joules_total{{index=\"1\",path=\"{_tree.Path("sys/class/powercap/intel-rapl:1")}\",rapl_zone=\"package\"}} 7\n", text, StringComparison.Ordinal);
        Assert.Contains($"node_rapl_joules_total{{index=\"0\",path=\"{_tree.Path("sys/class/powercap/intel-rapl:0:0")}\",rapl_zone=\"dram\"}} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("node_rapl_package_joules_total", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Rapl_NoPowercap_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("joules_total{", CollectorHarness.ForTree(RaplCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Fact]
    public void Rapl_NoMaxEnergyRange_NoSeriesAndNoFailure()
    {
        WriteRaplZone("intel-rapl:0", "package-0", 5_000_000).Delete("sys/class/powercap/intel-rapl:0/max_energy_range_uj");
        Assert.DoesNotContain("joules_total{", CollectorHarness.ForTree(RaplCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("energy_uj", "lots\n")]
    [InlineData("energy_uj", "")]
    [InlineData("max_energy_range_uj", "-1\n")]
    public void Rapl_Malformed_FailsTheCollectorNamingTheFile(string file, string content)
    {
        WriteRaplZone("intel-rapl:0", "package-0", 5_000_000).Write($"sys/class/powercap/intel-rapl:0/{file}", content);
        var error = Assert.Throws<MalformedSourceException>(() => CollectorHarness.ForTree(RaplCollector.Descriptor, _tree.Root).Update());
        Assert.Equal(_tree.Path($"sys/class/powercap/intel-rapl:0/{file}"), error.SourcePath);
    }

    [Fact]
    public void Rapl_EnergyMissing_FailsTheCollector()
    {
        WriteRaplZone("intel-rapl:0", "package-0", 5_000_000).Delete("sys/class/powercap/intel-rapl:0/energy_uj");
        Assert.Throws<FileNotFoundException>(() => CollectorHarness.ForTree(RaplCollector.Descriptor, _tree.Root).Update());
    }

    [Theory]
    [InlineData("package-0", "package_0")]
    [InlineData("psys", "psys")]
    [InlineData("some.zone--x", "some_zone_x")]
    public void Rapl_Sanitize_AsNodeExporter(string zone, string expected) => Assert.Equal(expected, RaplCollector.Sanitize(zone));

    [Fact]
    public void Rapl_EnergyMeter_SumsPackageAndDram_AcrossWraps()
    {
        WriteRaplZone("intel-rapl:0", "package-0", 5_000_000).WriteRaplZone("intel-rapl:0:0", "core", 3_000_000).WriteRaplZone("intel-rapl:0:1", "dram", 1_000_000);
        var meter = new RaplCollector.EnergyMeter(new Monitor.Agent.Configuration.HostPaths(_tree.Path("proc"), _tree.Path("sys"), _tree.Root));
        Assert.True(meter.TryReadTotalJoules(out var first));
        Assert.Equal(6.0, first, 9); // package 5 J + dram 1 J; core is inside the package
        // The package counter wraps at 100 J (max_energy_range_uj 100000000): 5 J -> 2 J means 97 J went by.
        _tree.Write("sys/class/powercap/intel-rapl:0/energy_uj", "2000000\n").Write("sys/class/powercap/intel-rapl:0:1/energy_uj", "1500000\n");
        Assert.True(meter.TryReadTotalJoules(out var second));
        Assert.Equal(first + 97 + 0.5, second, 9);
    }

    [Fact]
    public void Rapl_EnergyMeter_NoRapl_False()
    {
        var meter = new RaplCollector.EnergyMeter(new Monitor.Agent.Configuration.HostPaths(_tree.Path("proc"), _tree.Path("sys"), _tree.Root));
        Assert.False(meter.TryReadTotalJoules(out var joules));
        Assert.Equal(0, joules);

        // RAPL that appears (the driver loaded) is seen at the next look, a minute later, not at the next tick.
        WriteRaplZone("intel-rapl:0", "package-0", 5_000_000);
        Assert.False(meter.TryReadTotalJoules(out _));
        Assert.True(new RaplCollector.EnergyMeter(new Monitor.Agent.Configuration.HostPaths(_tree.Path("proc"), _tree.Path("sys"), _tree.Root)).TryReadTotalJoules(out var fresh));
        Assert.Equal(5.0, fresh);
    }

    private NodeCollectorsATests WriteRaplZone(string directory, string name, ulong microJoules)
    {
        _tree.Write($"sys/class/powercap/{directory}/name", name + "\n")
            .Write($"sys/class/powercap/{directory}/energy_uj", microJoules + "\n")
            .Write($"sys/class/powercap/{directory}/max_energy_range_uj", "100000000\n");
        return this;
    }

    private NodeCollectorsATests Write(string relative, string content)
    {
        _tree.Write(relative, content);
        return this;
    }

    private NodeCollectorsATests Delete(string relative)
    {
        _tree.Delete(relative);
        return this;
    }

    // ---- dmi ----

    [Fact]
    public void Dmi_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(DmiCollector.Descriptor);

    [Fact]
    public void Dmi_ReadOnce_LaterChangesIgnoredUntilRestart()
    {
        _tree.Write("sys/class/dmi/id/sys_vendor", "Dell Inc.\n").Write("sys/class/dmi/id/chassis_type", "23\n").Write("sys/class/dmi/id/uevent", "MODALIAS=x\n");
        var harness = CollectorHarness.ForTree(DmiCollector.Descriptor, _tree.Root);
        Assert.Contains("node_dmi_info{system_vendor=\"Dell Inc.\"} 1\n", harness.Scrape(), StringComparison.Ordinal);
        _tree.Write("sys/class/dmi/id/sys_vendor", "Other\n");
        Assert.Contains("node_dmi_info{system_vendor=\"Dell Inc.\"} 1\n", harness.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void Dmi_NoDirectory_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_dmi_info{", CollectorHarness.ForTree(DmiCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    [Fact]
    public void Dmi_OnlyUnexportedFiles_NoSeries()
    {
        _tree.Write("sys/class/dmi/id/chassis_type", "23\n").Write("sys/class/dmi/id/modalias", "dmi:x\n");
        Assert.DoesNotContain("node_dmi_info", CollectorHarness.ForTree(DmiCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x41, 0xC0, 0x1C, 0x5B, 0x87 }, "A\uFFFD\u001C[\uFFFD")]
    [InlineData(new byte[] { 0xFF, 0xFE, 0xFD, 0x42 }, "\uFFFDB")]                       // one run, one replacement (Go)
    [InlineData(new byte[] { 0xC3, 0xA9, 0xE2, 0x82 }, "\u00E9\uFFFD")]                 // é, then a truncated sequence
    public void Dmi_ToValidUtf8_AsGo(byte[] bytes, string expected) => Assert.Equal(expected, DmiCollector.ToValidUtf8(bytes));

    // ---- powersupplyclass ----

    [Fact]
    public void PowerSupply_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(PowerSupplyClassCollector.Descriptor);

    [Fact]
    public void PowerSupply_IgnoredSupplies_Unanchored()
    {
        _tree.Write("sys/class/power_supply/AC/online", "1\n").Write("sys/class/power_supply/BAT0/capacity", "50\n");
        var text = CollectorHarness.ForTree(PowerSupplyClassCollector.Descriptor, _tree.Root, new Dictionary<string, string?> { ["ignored-supplies"] = "AT" }).Scrape();
        Assert.Contains("node_power_supply_online{power_supply=\"AC\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("BAT0", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("capacity", "full\n")]
    [InlineData("capacity", "")]
    [InlineData("voltage_avg", "0x\n")]           // parsed by procfs though not exported
    [InlineData("temp", "99999999999999999999\n")]
    public void PowerSupply_BadNumber_OnlyThatSupplySkipped(string file, string content)
    {
        _tree.Write("sys/class/power_supply/AC/online", "1\n").Write("sys/class/power_supply/BAT0/present", "1\n").Write($"sys/class/power_supply/BAT0/{file}", content);
        var text = CollectorHarness.ForTree(PowerSupplyClassCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_power_supply_online{power_supply=\"AC\"} 1\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("BAT0", text, StringComparison.Ordinal);
    }

    [Fact]
    public void PowerSupply_GoIntegers_SignedBase0AndScaled()
    {
        _tree.Write("sys/class/power_supply/BAT0/current_now", "-1500000\n").Write("sys/class/power_supply/BAT0/temp", "0x10E\n").Write("sys/class/power_supply/BAT0/status", "Charging\n");
        var text = CollectorHarness.ForTree(PowerSupplyClassCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_power_supply_current_ampere{power_supply=\"BAT0\"} -1.5\n", text, StringComparison.Ordinal);
        Assert.Contains("node_power_supply_temp_celsius{power_supply=\"BAT0\"} 27\n", text, StringComparison.Ordinal);
        Assert.Contains("node_power_supply_info{power_supply=\"BAT0\",status=\"Charging\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void PowerSupply_NoClass_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_power_supply_info{", CollectorHarness.ForTree(PowerSupplyClassCollector.Descriptor, _tree.Root).Scrape(), StringComparison.Ordinal);

    // ---- edac ----

    [Fact]
    public void Edac_HostFixture_MatchesNodeExporterGolden() => HostGolden.AssertMatches(EdacCollector.Descriptor);

    [Fact]
    public void Edac_NoEdac_NoSeriesAndNoFailure() =>
        Assert.DoesNotContain("node_edac_", CollectorHarness.ForTree(EdacCollector.Descriptor, _tree.Root).Scrape().Split('\n').Where(l => !l.StartsWith('#')));

    [Theory]
    [InlineData("mc1/ce_count", "many\n")]
    [InlineData("mc1/ue_noinfo_count", null)]
    [InlineData("mc1/csrow0/ue_count", "-1\n")]
    [InlineData("mc1/csrow0/ce_count", null)]
    public void Edac_BadController_OnlyThatControllerSkipped(string file, string? content)
    {
        WriteEdac("mc0").WriteEdac("mc1");
        if (content is null)
        {
            _tree.Delete($"sys/devices/system/edac/mc/{file}");
        }
        else
        {
            _tree.Write($"sys/devices/system/edac/mc/{file}", content);
        }

        var text = CollectorHarness.ForTree(EdacCollector.Descriptor, _tree.Root).Scrape();
        Assert.Contains("node_edac_correctable_errors_total{controller=\"0\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"0\"} 4\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("controller=\"1\"", text, StringComparison.Ordinal);
    }

    private NodeCollectorsATests WriteEdac(string controller)
    {
        var dir = $"sys/devices/system/edac/mc/{controller}/";
        _tree.Write(dir + "ce_count", "1\n").Write(dir + "ce_noinfo_count", "2\n").Write(dir + "ue_count", "5\n").Write(dir + "ue_noinfo_count", "6\n")
            .Write(dir + "csrow0/ce_count", "3\n").Write(dir + "csrow0/ue_count", "4\n");
        return this;
    }

    private void WriteConntrack() =>
        _tree.Write("proc/sys/net/netfilter/nf_conntrack_count", "5\n").Write("proc/sys/net/netfilter/nf_conntrack_max", "10\n")
            .CopyFromHostFixture("proc/net/stat/nf_conntrack");
}
