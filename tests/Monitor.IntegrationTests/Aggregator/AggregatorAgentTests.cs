using System.Text.Json;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Aggregator;

/// <summary>The real aggregator polling the real agent: what it stores of a job is exactly the agent's ledger record.</summary>
[Trait("Category", "AgentProcess")]
public sealed class AggregatorAgentTests
{
    [Fact]
    public async Task Aggregator_PollsTheAgent_JobRecordMatchesTheLedgerExactly()
    {
        using var tree = new TempTree().Write("mapping/1", "42\n");
        await using var agent = await AgentProcess.StartAsync(
            "--gpu.simulate=2", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=1s",
            $"--collector.jobs.slurm-mapping-dir={tree.Path("mapping")}", $"--collector.jobs.slurm-jobinfo-dir={tree.Path("jobinfo")}",
            "--collector.jobs.gpustat=false", "--collector.jobs.slurm-cgroup=false", "--collector.jobs.processes=false");
        await using var aggregator = await AgentProcess.StartExecutableAsync(
            AgentProcess.AggregatorPath, null, $"--storage.path={tree.Path("aggregator/store.db")}", $"--targets={agent.BaseAddress}", "--poll.interval=1s");
        using var client = new HttpClient();

        // The job runs for a few seconds, then ends; the aggregator sees the end at its next poll.
        await UntilAsync(async () => (await AgentJob(client, agent))?.GetProperty("gpus").GetArrayLength() == 1 && (await AgentJob(client, agent))!.Value.GetProperty("gpus")[0].GetProperty("allocated_seconds").GetDouble() >= 3);
        File.Delete(tree.Path("mapping/1"));
        await UntilAsync(async () => (await AgentJob(client, agent))?.GetProperty("state").GetString() == "ended");
        await UntilAsync(async () => (await Report(client, aggregator))?.GetProperty("state").GetString() == "ended");

        var ledger = (await AgentJob(client, agent))!.Value;
        var report = (await Report(client, aggregator))!.Value;
        var record = Assert.Single(report.GetProperty("node_records").EnumerateArray());
        Assert.Equal(Environment.MachineName, record.GetProperty("node").GetString());
        Assert.Equal(ledger.GetProperty("revision").GetInt64(), record.GetProperty("revision").GetInt64());
        Assert.Equal(ledger.GetProperty("start").GetDateTimeOffset(), record.GetProperty("start").GetDateTimeOffset());
        Assert.Equal(ledger.GetProperty("end").GetDateTimeOffset(), record.GetProperty("end").GetDateTimeOffset());
        var mine = ledger.GetProperty("gpus")[0];
        var stored = record.GetProperty("gpus")[0];
        foreach (var field in new[] { "allocated_seconds", "busy_seconds", "energy_joules", "tensor_active_seconds", "sm_active_seconds", "memory_peak_bytes", "memory_total_bytes", "utilization_peak" })
        {
            Assert.Equal(mine.GetProperty(field).GetDouble(), stored.GetProperty(field).GetDouble());
        }

        Assert.Equal(mine.GetProperty("uuid").GetString(), stored.GetProperty("uuid").GetString());
        Assert.Equal(mine.GetProperty("allocated_seconds").GetDouble(), report.GetProperty("gpu_allocated_seconds").GetDouble());
        Assert.Equal(mine.GetProperty("energy_joules").GetDouble(), report.GetProperty("gpu_energy_joules").GetDouble());

        // monitor jobstats shows the same job.
        var (code, stdout, stderr) = await ExternalTool.RunAsync(
            Path.Join(AppContext.BaseDirectory, "monitor"), ["jobstats", "42", $"--aggregator={aggregator.BaseAddress}"], timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 0, stderr);
        Assert.StartsWith("Job 42: ended", stdout, StringComparison.Ordinal);
        Assert.Contains($"{Environment.MachineName,-12}   1  ", stdout, StringComparison.Ordinal);
        var (missingCode, _, missing) = await ExternalTool.RunAsync(
            Path.Join(AppContext.BaseDirectory, "monitor"), ["jobstats", "999", $"--aggregator={aggregator.BaseAddress}"], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(1, missingCode);
        Assert.Contains("job 999 is not known to the aggregator", missing, StringComparison.Ordinal);

        // monitor usage sums it: the day of its end, under no account (a mapping file gives none).
        var day = ledger.GetProperty("end").GetDateTimeOffset().UtcDateTime.Date;
        var (usageCode, csv, usageError) = await ExternalTool.RunAsync(
            Path.Join(AppContext.BaseDirectory, "monitor"),
            ["usage", "--by=user", $"--from={day:yyyy-MM-dd}", $"--to={day.AddDays(1):yyyy-MM-dd}", "--csv", $"--aggregator={aggregator.BaseAddress}"],
            timeout: TimeSpan.FromSeconds(30));
        Assert.True(usageCode == 0, usageError);
        var row = csv.Split("\r\n")[1].Split(',');
        Assert.Equal("", row[0]);
        Assert.Equal(mine.GetProperty("allocated_seconds").GetDouble() / 3600, double.Parse(row[1], System.Globalization.CultureInfo.InvariantCulture), 6);
        Assert.Equal("1", row[5]);

        // Its own health, and an unknown job.
        var metrics = await client.GetStringAsync(new Uri(aggregator.BaseAddress, "metrics"));
        Assert.Contains($"monitor_aggregator_target_up{{target=\"{agent.BaseAddress.ToString().TrimEnd('/')}\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("monitor_usage_jobs_finished_total{account=\"\",user=\"\"} 1", metrics, StringComparison.Ordinal);
        using var unknown = await client.GetAsync(new Uri(aggregator.BaseAddress, "api/v1/jobs/nope"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private static async Task<JsonElement?> AgentJob(HttpClient client, AgentProcess agent)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri(agent.BaseAddress, "api/v1/jobs")));
        var job = document.RootElement.GetProperty("jobs").EnumerateArray().FirstOrDefault(j => j.GetProperty("job_id").GetString() == "42");
        return job.ValueKind == JsonValueKind.Object ? job.Clone() : null;
    }

    private static async Task<JsonElement?> Report(HttpClient client, AgentProcess aggregator)
    {
        using var response = await client.GetAsync(new Uri(aggregator.BaseAddress, "api/v1/jobs/42"));
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not reached within 60 s");
            await Task.Delay(200);
        }
    }
}
