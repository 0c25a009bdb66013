using System.Text.Json;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Storage;
using Monitor.Cli;

namespace Monitor.Aggregator.Tests.Cli;

/// <summary><c>monitor top</c>'s table, byte for byte (tests/fixtures/cli/top.txt).</summary>
public sealed class TopTextTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void RunningJobs_MostGpusFirstIdleFlagged_MatchesGolden()
    {
        // Job 100: 2 nodes × 2 GPUs for 2 h; gpu18's GPU 1 did 1 busy second of the last 30 (3 %: idle). Job 7: one GPU,
        // 50 % overall and 100 % now, a day and an hour in. Job 9: CPU-only.
        RunningJob[] jobs =
        [
            new("7", "bob", "chemistry", "gpu", Now.AddHours(-25), ["gpu3"], [new("gpu3", 0, 90_000, 45_000, 30, 30)]),
            new("100", "alice", "physics", "gpu", Now.AddHours(-2), ["gpu17", "gpu18"],
            [
                new("gpu17", 0, 7200, 6000, 30, 25), new("gpu17", 1, 7200, 6000, 30, 25),
                new("gpu18", 0, 7200, 6000, 30, 25), new("gpu18", 1, 7200, 300, 30, 1),
            ]),
            new("9", "carol", null, "cpu", Now.AddMinutes(-5), ["cpu1"], []),
        ];

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            RunningReport.Write(json, jobs, Now);
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        Goldens.Check("top.txt", TopText.Format(document.RootElement, 50));
        Assert.EndsWith("... and 1 more (--limit)\n", TopText.Format(document.RootElement, 2), StringComparison.Ordinal);
    }
}
