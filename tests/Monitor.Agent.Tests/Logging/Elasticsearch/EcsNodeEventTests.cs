using System.Text.Json;
using Microsoft.Extensions.Logging;
using Monitor.Agent.Collectors;
using Monitor.Agent.Logging;
using Serilog;
using Serilog.Extensions.Logging;

namespace Monitor.Agent.Tests.Logging.Elasticsearch;

/// <summary>The ECS shape of node events as the Elasticsearch sink writes them (docs/events.md).</summary>
public sealed partial class EcsNodeEventTests
{
    [Fact]
    public void Write_InfiniBandLinkDown_HasInfinibandObject()
    {
        var doc = Render(logger => HostCollectorLog.IbLinkDowned(logger, "mlx5_0", "1", "InfiniBand", 3, 4, "0x1234"));

        Assert.Equal("2111", doc.GetProperty("event.code").GetString());
        Assert.Equal(["host"], doc.GetProperty("event.category").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["error", "device"], doc.GetProperty("event.type").EnumerateArray().Select(e => e.GetString()));
        var ib = doc.GetProperty("infiniband");
        Assert.Equal("mlx5_0", ib.GetProperty("device").GetString());
        Assert.Equal("1", ib.GetProperty("port").GetString());
        Assert.Equal(3, ib.GetProperty("old_value").GetDouble());
        Assert.Equal(4, ib.GetProperty("new_value").GetDouble());
        Assert.Equal("0x1234", ib.GetProperty("node_guid").GetString());
        Assert.False(doc.TryGetProperty("labels", out _));
    }

    [Fact]
    public void Write_JobEnded_HasTypedJobObject()
    {
        // Same id, name and template as JobsCollector's event 4001 (private there).
        var doc = Render(logger => LogJobEnded(logger, "1234", 60, 2, 120, 90, 5000, 1e9, 30, 2e9, 1, 0));

        Assert.Equal("4001", doc.GetProperty("event.code").GetString());
        Assert.Equal(["process"], doc.GetProperty("event.category").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["end"], doc.GetProperty("event.type").EnumerateArray().Select(e => e.GetString()));
        var job = doc.GetProperty("job");
        Assert.Equal("1234", job.GetProperty("id").GetString());
        Assert.Equal(60, job.GetProperty("duration_seconds").GetDouble());
        Assert.Equal(120, job.GetProperty("gpu_seconds").GetDouble());
        Assert.Equal(90, job.GetProperty("busy_seconds").GetDouble());
        Assert.Equal(5000, job.GetProperty("energy_joules").GetDouble());
        Assert.Equal(1e9, job.GetProperty("gpu_memory_peak_bytes").GetDouble());
        Assert.Equal(1, job.GetProperty("xids").GetInt64());
    }

    [Fact]
    public void SnakeCase_PropertyNames_AsDocumented()
    {
        Assert.Equal("gpu_memory_peak_bytes", EcsEvents.SnakeCase("GpuMemoryPeakBytes"));
        Assert.Equal("old_state_id", EcsEvents.SnakeCase("OldStateId"));
        Assert.Equal("xid_count", EcsEvents.SnakeCase("XIDCount"));
        Assert.Equal("reason", EcsEvents.SnakeCase("Reason"));
    }

    private static JsonElement Render(Action<Microsoft.Extensions.Logging.ILogger> log)
    {
        var sink = new CollectingSink();
        using (var serilog = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger())
        using (var factory = new SerilogLoggerFactory(serilog))
        {
            log(factory.CreateLogger("Monitor.Agent.Test"));
        }

        var formatter = new EcsJsonFormatter("monitor-agent", "1.0", "node1", "monitor.agent");
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            formatter.Write(json, Assert.Single(sink.Events));
        }

        return JsonDocument.Parse(stream.ToArray()).RootElement.Clone();
    }

    [LoggerMessage(EventId = 4001, EventName = "job_ended", Level = LogLevel.Information,
        Message = "Job {JobId} ended on this node after {Seconds} s: {Gpus} GPUs, {GpuSeconds} GPU-seconds allocated, {BusySeconds} busy, {EnergyJoules} J, GPU memory peak {GpuMemoryPeakBytes} B, CPU {CpuSeconds} s, memory peak {MemoryPeakBytes} B, {Xids} XIDs, {EccErrors} ECC errors")]
    private static partial void LogJobEnded(
        Microsoft.Extensions.Logging.ILogger logger, string jobId, double seconds, int gpus, double gpuSeconds, double busySeconds, double energyJoules, double gpuMemoryPeakBytes,
        double cpuSeconds, double memoryPeakBytes, long xids, long eccErrors);

    private sealed class CollectingSink : Serilog.Core.ILogEventSink
    {
        public List<Serilog.Events.LogEvent> Events { get; } = [];

        public void Emit(Serilog.Events.LogEvent logEvent) => Events.Add(logEvent);
    }
}
