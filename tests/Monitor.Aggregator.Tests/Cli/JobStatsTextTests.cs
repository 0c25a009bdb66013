using System.Text.Json;
using Monitor.Aggregator.Api;
using Monitor.Cli;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Cli;

/// <summary>
/// <c>monitor jobstats</c>'s report, byte for byte (tests/fixtures/cli/), for jobs built from records whose numbers
/// are easy to check by hand. Regenerate with <c>MONITOR_UPDATE_GOLDEN=1</c> and review the diff.
/// </summary>
public sealed class JobStatsTextTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void FourGpusAtNinePercentOnTwoNodes_MatchesGolden()
    {
        // An hour on 2 nodes × 2 GPUs, each busy 9 % of the time at 350 W: 4 GPU-hours, 0.36 busy, 1.4 kWh, 0.35 kWh a GPU-hour.
        (string, NodeJobRecord)[] records =
        [
            ("gpu17", Record(Start, Start.AddHours(1), Gpu(0, 0.09), Gpu(1, 0.09))),
            ("gpu18", Record(Start.AddSeconds(2), Start.AddHours(1), Gpu(0, 0.09), Gpu(1, 0.09))),
        ];

        Golden("jobstats-four-gpus.txt", records, Start.AddHours(2));
    }

    [Fact]
    public void CpusMemoryAndGpuTotals_EfficienciesAndNotesMatchGolden()
    {
        // An hour on one node: 8 CPUs busy 1.6 CPU-hours (20 %), memory peak 60.8 of 64 GB (95 %: near the limit), GPU 0
        // at 80 % (97 % at its busiest tick) with 77 of 80 GB (96 %: near its total). It owned the node: 1.8 MJ of CPU energy.
        (string, NodeJobRecord)[] records =
        [
            ("gpu17", Record(Start, Start.AddHours(1), Gpu(0, 0.8, memory: 77e9) with { MemoryTotalBytes = 80e9, UtilizationPeak = 0.97 }) with
            {
                CpusAllocated = 8, CpuSeconds = 5760, MemoryPeakBytes = 60.8e9, MemoryLimitBytes = 64e9, CpuEnergyJoules = 1.8e6,
            }),
        ];

        Golden("jobstats-cpu-memory.txt", records, Start.AddHours(2));
    }

    [Fact]
    public void RunningSingleGpuJobWithXids_MatchesGolden()
    {
        (string, NodeJobRecord)[] records = [("gpu3", Record(Start, null, Gpu(5, 0.3, memory: 12e9, xids: 1, hours: 0.5)) with { UnobservedSeconds = 42 })];

        Golden("jobstats-running-xid.txt", records, Start.AddMinutes(30));
    }

    private static void Golden(string name, (string, NodeJobRecord)[] records, DateTimeOffset now)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            Assert.True(JobReport.Write(json, "12345", records, now));
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        Goldens.Check(name, JobStatsText.Format(document.RootElement));
    }

    private static NodeJobRecord Record(DateTimeOffset start, DateTimeOffset? end, params NodeJobGpu[] gpus) => SomeJob.Record("12345", start, end, gpus);

    private static NodeJobGpu Gpu(int index, double utilization, double memory = 20e9, long xids = 0, double hours = 1) =>
        SomeJob.Gpu(index, utilization, memory, xids, hours);
}
