using System.Text;
using Monitor.Contracts;

namespace Monitor.Agent.Tests.Contracts;

/// <summary>
/// <see cref="JobsFeedReader"/> on the feed's optional denominators (docs/api.md): <c>cpus_allocated</c> and
/// <c>memory_limit_bytes</c> per job, <c>memory_total_bytes</c> per GPU. Absent or null is unknown; a number from 0 is
/// the value; anything else fails the answer with the field's place in it. The agent's own answer is read field for
/// field in JobLedgerTests.
/// </summary>
public sealed class JobsFeedReaderTests
{
    public static TheoryData<string> Fields => new() { "cpus_allocated", "memory_limit_bytes", "memory_total_bytes" };

    [Theory]
    [MemberData(nameof(Fields))]
    public void Parse_FieldAbsentOrNull_Unknown(string field)
    {
        foreach (var page in (JobsFeedPage[])[JobsFeedReader.Parse(Answer(null, null)), JobsFeedReader.Parse(Answer(field, "null"))])
        {
            var job = Assert.Single(page.Jobs);
            Assert.Null(Value(job, field));
        }
    }

    [Theory]
    [InlineData("cpus_allocated", "12", 12.0)]
    [InlineData("cpus_allocated", "0.5", 0.5)]
    [InlineData("memory_limit_bytes", "17179869184", 17179869184.0)]
    [InlineData("memory_limit_bytes", "0", 0.0)]
    [InlineData("memory_total_bytes", "85520809984", 85520809984.0)]
    [InlineData("memory_total_bytes", "8.5520809984e10", 85520809984.0)]
    public void Parse_FieldANumberFromZero_TheValue(string field, string json, double expected)
    {
        var job = Assert.Single(JobsFeedReader.Parse(Answer(field, json)).Jobs);

        Assert.Equal(expected, Value(job, field));
    }

    [Theory]
    [InlineData("cpus_allocated", "-1", "jobs[0].cpus_allocated is not a number from 0")]
    [InlineData("cpus_allocated", "\"8\"", "jobs[0].cpus_allocated is not a finite number")]
    [InlineData("memory_limit_bytes", "-0.5", "jobs[0].memory_limit_bytes is not a number from 0")]
    [InlineData("memory_limit_bytes", "1e400", "jobs[0].memory_limit_bytes is not a finite number")]
    [InlineData("memory_limit_bytes", "true", "jobs[0].memory_limit_bytes is not a finite number")]
    [InlineData("memory_total_bytes", "-85520809984", "jobs[0].gpus[0].memory_total_bytes is not a number from 0")]
    [InlineData("memory_total_bytes", "[1]", "jobs[0].gpus[0].memory_total_bytes is not a finite number")]
    [InlineData("memory_total_bytes", "-1e400", "jobs[0].gpus[0].memory_total_bytes is not a finite number")]
    public void Parse_FieldNegativeOrNotAFiniteNumber_FailsNamingIt(string field, string json, string message)
    {
        var e = Assert.Throws<FeedFormatException>(() => JobsFeedReader.Parse(Answer(field, json)));

        Assert.Equal(message, e.Message);
    }

    private static double? Value(NodeJobRecord job, string field) => field switch
    {
        "cpus_allocated" => job.CpusAllocated,
        "memory_limit_bytes" => job.MemoryLimitBytes,
        _ => Assert.Single(job.Gpus).MemoryTotalBytes,
    };

    /// <summary>A feed answer of one job on one GPU, with <paramref name="field"/> set to <paramref name="json"/> where it belongs (none when null).</summary>
    private static byte[] Answer(string? field, string? json)
    {
        var jobField = field is "cpus_allocated" or "memory_limit_bytes" ? $", \"{field}\": {json}" : "";
        var gpuField = field == "memory_total_bytes" ? $", \"memory_total_bytes\": {json}" : "";
        return Encoding.UTF8.GetBytes($$"""
            {
              "node": "gpu-node-17", "cursor": "9c1f0e0b6a7d4f4c9d0a3f6e2b1c8d7e-5",
              "jobs": [ {
                "job_id": "1234", "revision": 5, "scheduler": "slurm", "state": "running", "start": "2026-11-29T11:30:38+00:00",
                "cpu_seconds": 10{{jobField}},
                "gpus": [ { "index": 0, "uuid": "GPU-5131d000-0000-4000-8000-000000000000", "allocated_seconds": 1{{gpuField}} } ]
              } ]
            }
            """);
    }
}
