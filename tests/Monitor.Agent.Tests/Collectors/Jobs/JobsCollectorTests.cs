using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Monitor.Agent.Collectors.Jobs;
using Monitor.Agent.Configuration;
using Monitor.Agent.Gpu;
using Monitor.Agent.Jobs;
using Monitor.Agent.Tests.Collectors;
using Monitor.Agent.Tests.Gpu;
using Monitor.Agent.Tests.Support;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Collectors.Jobs;

/// <summary>The jobs collector end to end: a mapping file, GPU ticks, series, the end event, the grace period and the API.</summary>
public sealed class JobsCollectorTests
{
    private const string Uuid = "GPU-5131d000-0000-4000-8000-000000000000";

    [Fact]
    public void Lifecycle_StartIntegrateEndGraceAndApi()
    {
        using var tree = new TempTree().Write("map/0", "1234\n").Write("root/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        using var logs = new CollectingLoggerFactory();
        var time = TestClock.Create();
        var services = new Monitor.Agent.Collectors.AgentServices();
        var harness = new CollectorHarness(
            JobsCollector.Descriptor,
            new HostPaths(tree.Path("proc"), tree.Path("sys"), tree.Path("root")),
            new Dictionary<string, string?> { ["slurm-mapping-dir"] = tree.Path("map"), ["gpustat-dir"] = tree.Path("none"), ["grace-period"] = "2m", ["state-path"] = "-" },
            logs.CreateLogger("jobs"),
            time,
            services);

        // A tick names GPU 0; the refresh then assigns it to job 1234; three 1 s ticks at 50 % and 100 W follow.
        Tick(services, time, energy: 0);
        harness.Update();
        for (var second = 1; second <= 3; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Tick(services, time, energy: 100 * second);
        }

        var running = PromSamples.Parse(harness.Scrape());
        const string Labels = $"{{gpu=\"0\",job_id=\"1234\",uuid=\"{Uuid}\"}}";
        Assert.Equal(3.0, running["job_gpu_allocated_seconds_total" + Labels], 9);
        Assert.Equal(1.5, running["job_gpu_busy_seconds_total" + Labels], 9);
        Assert.Equal(300, running["job_gpu_energy_joules_total" + Labels], 9);
        Assert.Equal(1, running[$"gpu_job_info{{gpu=\"0\",job_id=\"1234\",uuid=\"{Uuid}\"}}"]);
        Assert.Equal(1, running["job_running{job_id=\"1234\"}"]);
        Assert.Equal(1, running["job_source_up{source=\"slurm_mapping\"}"]);
        Assert.Single(logs.Entries, e => e.Id.Id == 4000);

        // The mapping file goes (the epilog ran): the job ends, keeps its series for the grace period, then they go.
        File.Delete(tree.Path("map/0"));
        time.Advance(TimeSpan.FromSeconds(1));
        Tick(services, time, energy: 400);
        var ended = PromSamples.Parse(harness.Scrape());
        Assert.Equal(0, ended["job_running{job_id=\"1234\"}"]);
        Assert.Contains("job_end_timestamp_seconds{job_id=\"1234\"}", ended.Keys);
        Assert.DoesNotContain(ended.Keys, k => k.StartsWith("gpu_job_info", StringComparison.Ordinal));
        Assert.Equal(4.0, ended["job_gpu_allocated_seconds_total" + Labels], 9);
        var end = Assert.Single(logs.Entries, e => e.Id.Id == 4001);
        Assert.Contains("Job 1234 ended", end.Message, StringComparison.Ordinal);
        Assert.Contains("400 J", end.Message, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1));
        var gone = PromSamples.Parse(harness.Scrape());
        Assert.DoesNotContain(gone.Keys, k => k.Contains("job_id=\"1234\"", StringComparison.Ordinal));

        // The API still reports it for an hour.
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            JobsApi.Write(json, services.Jobs, "node1", time.GetUtcNow());
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        var job = Assert.Single(document.RootElement.GetProperty("jobs").EnumerateArray());
        Assert.Equal("node1", document.RootElement.GetProperty("node").GetString());
        Assert.Equal("1234", job.GetProperty("job_id").GetString());
        Assert.Equal("ended", job.GetProperty("state").GetString());
        var gpu = Assert.Single(job.GetProperty("gpus").EnumerateArray());
        Assert.Equal(Uuid, gpu.GetProperty("uuid").GetString());
        Assert.Equal(400, gpu.GetProperty("energy_joules").GetDouble(), 9);
        Assert.Equal(2.0, gpu.GetProperty("busy_seconds").GetDouble(), 9);
    }

    [Fact]
    public void Lifecycle_SourceFailsForAWhile_JobKeepsRunningWithItsCounters()
    {
        using var tree = new TempTree().Write("map/0", "1234\n").Write("root/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        using var logs = new CollectingLoggerFactory();
        var time = TestClock.Create();
        var services = new Monitor.Agent.Collectors.AgentServices();
        var harness = new CollectorHarness(
            JobsCollector.Descriptor,
            new HostPaths(tree.Path("proc"), tree.Path("sys"), tree.Path("root")),
            new Dictionary<string, string?> { ["slurm-mapping-dir"] = tree.Path("map"), ["gpustat-dir"] = tree.Path("none"), ["grace-period"] = "2m", ["state-path"] = "-" },
            logs.CreateLogger("jobs"),
            time,
            services);
        Tick(services, time, energy: 0);
        harness.Update();
        time.Advance(TimeSpan.FromSeconds(1));
        Tick(services, time, energy: 100);
        var started = PromSamples.Parse(harness.Scrape())["job_start_timestamp_seconds{job_id=\"1234\"}"];

        // The mapping file cannot be read (here: a symlink to itself, ELOOP even for root): the source fails, which
        // says nothing about the job. It keeps running on its GPU and keeps integrating.
        File.Delete(tree.Path("map/0"));
        File.CreateSymbolicLink(tree.Path("map/0"), tree.Path("map/0"));
        time.Advance(TimeSpan.FromSeconds(1));
        Tick(services, time, energy: 200);
        var failing = PromSamples.Parse(harness.Scrape());
        Assert.Equal(0, failing["job_source_up{source=\"slurm_mapping\"}"]);
        Assert.Equal(1, failing["job_running{job_id=\"1234\"}"]);
        Assert.Equal(1, failing[$"gpu_job_info{{gpu=\"0\",job_id=\"1234\",uuid=\"{Uuid}\"}}"]);
        time.Advance(TimeSpan.FromSeconds(1));
        Tick(services, time, energy: 300);
        Assert.Equal(3.0, PromSamples.Parse(harness.Scrape())[$"job_gpu_allocated_seconds_total{{gpu=\"0\",job_id=\"1234\",uuid=\"{Uuid}\"}}"], 9);

        // It answers again, still listing the job: the same lifetime, no new start.
        File.Delete(tree.Path("map/0"));
        File.WriteAllText(tree.Path("map/0"), "1234\n");
        var back = PromSamples.Parse(harness.Scrape());
        Assert.Equal(1, back["job_source_up{source=\"slurm_mapping\"}"]);
        Assert.Equal(started, back["job_start_timestamp_seconds{job_id=\"1234\"}"]);
        Assert.Single(logs.Entries, e => e.Id.Id == 4000);
        Assert.DoesNotContain(logs.Entries, e => e.Id.Id == 4001);

        // It answers without the job: now it has ended.
        File.Delete(tree.Path("map/0"));
        Assert.Equal(0, PromSamples.Parse(harness.Scrape())["job_running{job_id=\"1234\"}"]);
        Assert.Single(logs.Entries, e => e.Id.Id == 4001);
    }

    private static void Tick(Monitor.Agent.Collectors.AgentServices services, FakeTimeProvider time, double energy)
    {
        var sample = new GpuSample { Timestamp = 1 };
        sample[GpuValue.Utilization] = 0.5;
        sample[GpuValue.Energy] = energy;
        services.Gpu.Publish(time.GetTimestamp(), [new GpuTickDevice(0, Uuid, sample, Healthy: true)]);
    }
}
