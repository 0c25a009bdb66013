using System.Globalization;
using System.Text.Json;
using Monitor.Testing;

namespace Monitor.IntegrationTests.Jobs;

/// <summary>
/// The job ledger in the real agent process: kill -9 in the middle of a job, then a restart on the same ledger. The
/// job's GPU memory total (from NVML, simulated) is in its records from its first credited tick and survives the kill.
/// </summary>
[Trait("Category", "AgentProcess")]
public sealed class JobLedgerAgentTests
{
    [Fact]
    public async Task KillMinus9MidJob_Restart_NoCounterGoesBackAndNothingIsCountedTwice()
    {
        using var tree = new TempTree().Write("mapping/0", "42\n");
        string[] args =
        [
            "--gpu.simulate=2", "--collector.disable-defaults", "--collector.gpu", "--collector.jobs", "--collector.jobs.interval=2s",
            $"--collector.jobs.slurm-mapping-dir={tree.Path("mapping")}", $"--collector.jobs.slurm-jobinfo-dir={tree.Path("jobinfo")}",
            "--collector.jobs.gpustat=false", "--collector.jobs.slurm-cgroup=false", "--collector.jobs.processes=false",
            $"--collector.jobs.state-path={tree.Path("state")}",
        ];
        using var client = new HttpClient();
        var seen = new List<Snapshot>();

        await using (var first = await AgentProcess.StartAsync(args))
        {
            await PollUntilAsync(client, first, seen, s => s.Allocated >= 5);
            await first.SignalAsync("KILL");
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (!first.HasExited)
            {
                await Task.Delay(50, exited.Token);
            }
        }

        var beforeKill = seen[^1];
        await using var second = await AgentProcess.StartAsync(args);
        await PollUntilAsync(client, second, seen, s => s.Allocated >= beforeKill.Allocated + 5);

        // The job ends, so its record is final and the check below does not depend on when the last refresh ran.
        File.Delete(tree.Path("mapping/0"));
        await PollUntilAsync(client, second, seen, s => s.End is not null);
        var last = seen[^1];

        // The same lifetime, resumed: its start is kept and it was down for a while, recorded as unobserved.
        Assert.Equal(seen[0].Start, last.Start);
        Assert.True(last.Unobserved > 0, $"unobserved {last.Unobserved}");

        // No counter ever goes back, across the kill too.
        for (var i = 1; i < seen.Count; i++)
        {
            Assert.True(seen[i].Allocated >= seen[i - 1].Allocated, $"allocated went back: {seen[i - 1]} then {seen[i]}");
            Assert.True(seen[i].Busy >= seen[i - 1].Busy, $"busy went back: {seen[i - 1]} then {seen[i]}");
            Assert.True(seen[i].Energy >= seen[i - 1].Energy, $"energy went back: {seen[i - 1]} then {seen[i]}");
            Assert.True(seen[i].Revision >= seen[i - 1].Revision, $"revision went back: {seen[i - 1]} then {seen[i]}");

            // The GPU's memory total, once known, stays: across the kill too (the ledger has it).
            Assert.True(seen[i - 1].MemoryTotal is null || seen[i].MemoryTotal == seen[i - 1].MemoryTotal, $"memory total changed: {seen[i - 1]} then {seen[i]}");
        }

        // What NVML reports for an H100 80GB HBM3 (81,559 MiB), which the simulated GPUs are.
        Assert.Equal(85520809984, last.MemoryTotal);

        // Nothing counted twice: measured plus unmeasured time on the GPU is at most the job's life (plus the one tick
        // before the refresh that found it). It is less by what the first agent had not measured yet: its GPU's first
        // tick after start-up is only a baseline (measured here: about 3 s), and by the tick before the end was seen.
        var life = (last.End!.Value - last.Start).TotalSeconds;
        Assert.InRange(last.Allocated + last.GpuUnobserved, life - 5, life + 1.01);
    }

    private static async Task PollUntilAsync(HttpClient client, AgentProcess agent, List<Snapshot> seen, Func<Snapshot, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the job's counters did not get there within 60 s:\n{agent.Log}");
            var text = await client.GetStringAsync(new Uri(agent.BaseAddress, "api/v1/jobs"));
            using var document = JsonDocument.Parse(text);
            var job = document.RootElement.GetProperty("jobs").EnumerateArray().FirstOrDefault(j => j.GetProperty("job_id").GetString() == "42");
            // Before the first GPU tick the job has no GPU yet.
            if (job.ValueKind == JsonValueKind.Object && job.GetProperty("gpus").GetArrayLength() == 1)
            {
                var gpu = job.GetProperty("gpus")[0];
                var snapshot = new Snapshot(
                    job.GetProperty("start").GetDateTimeOffset(),
                    job.GetProperty("end").ValueKind == JsonValueKind.Null ? null : job.GetProperty("end").GetDateTimeOffset(),
                    job.GetProperty("revision").GetInt64(),
                    gpu.GetProperty("allocated_seconds").GetDouble(),
                    gpu.GetProperty("busy_seconds").GetDouble(),
                    gpu.GetProperty("energy_joules").GetDouble(),
                    job.GetProperty("unobserved_seconds").GetDouble(),
                    gpu.GetProperty("unobserved_seconds").GetDouble(),
                    gpu.GetProperty("memory_total_bytes") is { ValueKind: JsonValueKind.Number } total ? total.GetDouble() : null);
                seen.Add(snapshot);
                if (done(snapshot))
                {
                    return;
                }
            }

            await Task.Delay(200);
        }
    }

    private sealed record Snapshot(DateTimeOffset Start, DateTimeOffset? End, long Revision, double Allocated, double Busy, double Energy, double Unobserved, double GpuUnobserved, double? MemoryTotal)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"rev {Revision}: {Allocated} s, {Busy} busy, {Energy} J, {Unobserved} unobserved ({GpuUnobserved} on the GPU), GPU memory total {MemoryTotal}");
    }
}
