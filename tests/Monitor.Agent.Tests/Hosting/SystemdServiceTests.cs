using Microsoft.Extensions.Time.Testing;
using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class SystemdServiceTests
{
    [Theory]
    [InlineData("30000000", null, 30.0)]
    [InlineData("1000000", "4242", 1.0)]
    [InlineData("500", "", 0.0005)]
    public void WatchdogInterval_FromWatchdogUsec(string usec, string? pid, double seconds)
    {
        var environment = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };

        Assert.Equal(TimeSpan.FromSeconds(seconds), SystemdService.WatchdogInterval(n => environment.GetValueOrDefault(n), 4242));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("1e6", null)]
    [InlineData("30000000", "1")] // the watchdog is for another process (sd_watchdog_enabled ignores it too)
    [InlineData("30000000", "x")]
    public void WatchdogInterval_NoneOrNotForUs_IsNull(string? usec, string? pid)
    {
        var environment = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };

        Assert.Null(SystemdService.WatchdogInterval(n => environment.GetValueOrDefault(n), 4242));
    }

    [Fact]
    public void TestFaults_Parse()
    {
        Assert.Same(TestFaults.None, TestFaults.Parse(null));
        Assert.Same(TestFaults.None, TestFaults.Parse(""));
        Assert.Equal(TimeSpan.FromSeconds(2.5), TestFaults.Parse("wedge-supervisor-after=2.5").WedgeSupervisorAfter);
        var error = Assert.Throws<FormatException>(() => TestFaults.Parse("wedge-everything"));
        Assert.Contains("MONITOR_AGENT_TEST_FAULT='wedge-everything' is not a known fault", error.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => TestFaults.Parse("wedge-supervisor-after=-1"));
    }

    [Fact]
    public void Heartbeat_AgeIsTheTimeSinceTheLastBeat()
    {
        var time = new FakeTimeProvider();
        var heartbeat = new SupervisorHeartbeat(time);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), heartbeat.Age);

        heartbeat.Beat();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), heartbeat.Age);
    }
}
