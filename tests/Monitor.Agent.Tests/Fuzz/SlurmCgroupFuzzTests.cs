using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Testing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// Slurm's cgroup files and <c>/proc/&lt;pid&gt;/cgroup</c>. <see cref="ProcessJobResolver.ParseCgroup"/> returns
/// without throwing for any text and finds the job of generated cgroup paths. <see cref="SlurmCgroupSource"/>, over a
/// cgroup v2 and v1 tree whose files (cpu.stat, memory.current/peak, cpuacct.usage, cgroup.procs, a task's environ)
/// hold any bytes, never throws and reports for each job exactly the usage an independent reading finds: the
/// number in the file when it is a finite, non-negative number, NaN otherwise.
/// </summary>
public sealed class SlurmCgroupFuzzTests : IDisposable
{
    private const string Sluid = "s5K1KKYAYG5D00";
    private const string V2 = "cg/system.slice/slurmstepd.scope/job_100/";
    private const string V2Node = "cg/system.slice/node7_slurmstepd.scope/job_200/";
    private const string V2Sluid = "cg/system.slice/slurmstepd.scope/" + Sluid + "/";
    private const string V1Cpu = "cg/cpuacct/slurm/uid_1001/job_55/";
    private const string V1Memory = "cg/memory/slurm/uid_1001/job_55/";

    private static readonly string[] CgroupSeeds =
    [
        "0::/system.slice/slurmstepd.scope/job_7/step_0/user/task_0\n",
        "12:memory:/slurm/uid_1000/job_55/step_0\n11:cpuacct:/slurm/uid_1000/job_55/step_0\n0::/\n",
        "0::/system.slice/slurmstepd.scope/" + Sluid + "/step_batch/user/task_0\n",
        "0::/user.slice/user-1000.slice/session-3.scope\n",
    ];

    private readonly TempTree _tree = new();

    /// <summary>What a counter file may hold: kernel numbers mostly, and every way a number can be wrong.</summary>
    private static readonly Gen<string> NumberText = Gen.Frequency(
        (6, Gen.ULong.Select(v => v.ToString(CultureInfo.InvariantCulture) + "\n")),
        (1, Gen.OneOf("-1\n", "Infinity\n", "-Infinity\n", "NaN\n", "1e400\n", "max\n", "1.5\n", " 42 \n", "\n", "", "0x10\n", "1e3\n", "∞\n", "+7\n")),
        (2, FuzzGen.Mutated(["123456\n", "0\n"], 3)),
        (1, FuzzGen.Latin1(64)),
        (1, Gen.Const(new string('9', 5_000))));

    private static readonly Gen<string> CpuStat = Gen.Frequency(
        (4, Gen.Select(NumberText, NumberText, (usage, user) => $"usage_usec {usage.TrimEnd('\n')}\nuser_usec {user}system_usec 1\n")),
        (1, Gen.Select(NumberText, NumberText, (a, b) => $"usage_usec {a.TrimEnd('\n')}\nusage_usec {b}")),
        (1, FuzzGen.Mutated(["usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"])),
        (1, FuzzGen.Latin1(200)));

    /// <summary>A task's environment: NUL-separated variables with a job id of any kind, or random bytes.</summary>
    private static readonly Gen<byte[]> Environ = Gen.Frequency(
        (4, Gen.String[Gen.Frequency((9, Gen.Char["0123456789"]), (1, Gen.Char["_x/ é"])), 1, 12].Where(id => id is not ("100" or "200" or "55")).Select(id => Encoding.UTF8.GetBytes($"HOME=/home/a\0SLURM_JOB_ID={id}\0SLURM_JOB_USER=a\0"))),
        (2, FuzzGen.Bytes(200)),
        (1, Gen.Const(Encoding.UTF8.GetBytes(new string('A', 70_000) + "\0SLURM_JOB_ID=300\0"))));

    private static readonly Gen<string> Procs = Gen.Frequency(
        (4, Gen.Const("4242\n")), (1, Gen.OneOf("04242\n", "99\n4242\n", "-4242\n", " 4242\n", "4242\r\n", "\n", "")), (1, FuzzGen.Latin1(40)));

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void ParseCgroup_AnyText_ReturnsJobOrNullWithinBounds() =>
        FuzzCheck.Run("ProcessJobResolver.ParseCgroup", FuzzGen.Text(CgroupSeeds), t => t.Length, text =>
        {
            var job = ProcessJobResolver.ParseCgroup(text, new Dictionary<string, string> { [Sluid] = "300" });
            if (job is not null && !Regex.IsMatch(job, "^([0-9]+|s[0-9A-Z]{13})\\z"))
            {
                throw new InvalidOperationException($"returned job '{job}'");
            }

            return job is not null;
        }, ciIterations: 2_000, new FuzzLimits(BytesPerUnit: 128));

    [Fact]
    public void ParseCgroup_GeneratedLines_ReturnsFirstJobPath() =>
        FuzzCheck.Run(
            "ProcessJobResolver.ParseCgroup (generated)",
            Gen.Select(Gen.Int[0, 2], Gen.ULong, Gen.String[Gen.Char["abcdefgh_.:-0123456789"], 0, 20]).Array[1, 6],
            l => l.Length,
            lines =>
            {
                string? expected = null;
                var text = new StringBuilder();
                foreach (var (kind, id, junk) in lines)
                {
                    var job = id.ToString(CultureInfo.InvariantCulture);
                    text.Append(kind switch
                    {
                        0 => $"0::/system.slice/slurmstepd.scope/job_{job}/step_{junk}",
                        1 => $"4:memory:/slurm/uid_1/job_{job}",
                        _ => $"0::/system.slice/{junk}",
                    }).Append('\n');
                    expected ??= kind < 2 ? job : null;
                }

                Assert.Equal(expected, ProcessJobResolver.ParseCgroup(text.ToString(), new Dictionary<string, string>()));
                return expected is not null;
            },
            ciIterations: 500,
            FuzzLimits.TimeOnly);

    [Fact]
    public void ParseNumber_AnyText_IsTheFiniteNonNegativeNumberOrNaN() =>
        FuzzCheck.Run(
            "SlurmCgroupSource.ParseNumber",
            NumberText,
            text => text.Length,
            text => SlurmCgroupSource.ParseNumber(Head(text)),
            (text, value) =>
            {
                Assert.Equal(Number(text), value);
                return !double.IsNaN(value);
            },
            ciIterations: 2_000);

    [Fact]
    public void ParseKey_AnyText_IsTheFirstGoodUsageLine() =>
        FuzzCheck.Run(
            "SlurmCgroupSource.ParseKey",
            CpuStat,
            text => text.Length,
            text => SlurmCgroupSource.ParseKey(Head(text), "usage_usec"),
            (text, value) =>
            {
                Assert.Equal(Key(text), value);
                return !double.IsNaN(value);
            },
            ciIterations: 2_000);

    [Fact]
    public void ParseEnvironment_AnyBytes_IsTheJobIdOrNull() =>
        FuzzCheck.Run(
            "ProcessJobResolver.ParseEnvironment",
            Gen.Frequency((3, Environ), (1, FuzzGen.MutatedBytes([Encoding.UTF8.GetBytes("HOME=/home/a\0SLURM_JOB_ID=4242\0SLURM_JOB_USER=a\0")]))),
            bytes => bytes.Length,
            bytes => ProcessJobResolver.ParseEnvironment(bytes.AsSpan(0, Math.Min(bytes.Length, 64 * 1024))),
            (bytes, job) =>
            {
                Assert.Equal(EnvironmentJob(bytes), job);
                return job is not null;
            },
            ciIterations: 2_000);

    [Fact]
    public void Refresh_AnyCgroupFiles_ReportsTheUsageTheFilesHold()
    {
        var source = new SlurmCgroupSource(_tree.Path("cg"), _tree.Path("proc"));
        var files = Gen.Select(
            Gen.Select(CpuStat, NumberText, NumberText, CpuStat, NumberText, NumberText),
            Gen.Select(CpuStat, NumberText, NumberText, Procs, Environ),
            Gen.Select(NumberText, NumberText, NumberText));
        FuzzCheck.Run(
            "SlurmCgroupSource.RefreshAsync",
            files,
            f => 1,
            f =>
            {
                var ((cpu1, cur1, peak1, cpu2, cur2, peak2), (cpu3, cur3, peak3, procs, environ), (usage55, mem55, max55)) = f;
                Write(V2 + "cpu.stat", cpu1).Write(V2 + "memory.current", cur1).Write(V2 + "memory.peak", peak1)
                    .Write(V2Node + "cpu.stat", cpu2).Write(V2Node + "memory.current", cur2).Write(V2Node + "memory.peak", peak2)
                    .Write(V2Sluid + "cpu.stat", cpu3).Write(V2Sluid + "memory.current", cur3).Write(V2Sluid + "memory.peak", peak3)
                    .Write(V2Sluid + "step_0/cgroup.procs", procs)
                    .Write(V1Cpu + "cpuacct.usage", usage55).Write(V1Memory + "memory.usage_in_bytes", mem55).Write(V1Memory + "memory.max_usage_in_bytes", max55);
                Directory.CreateDirectory(_tree.Path("proc/4242"));
                File.WriteAllBytes(_tree.Path("proc/4242/environ"), environ);

                var result = source.RefreshAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();

                var sluidJob = procs.Split(["\r\n", "\n", "\r"], StringSplitOptions.None).Any(l => Regex.IsMatch(l, "^[0-9]+\\z") && System.Numerics.BigInteger.Parse(l, CultureInfo.InvariantCulture) == 4242)
                    ? EnvironmentJob(environ) ?? Sluid
                    : Sluid;
                var expected = new Dictionary<string, (JobIdentity Identity, CgroupUsage Usage)>(StringComparer.Ordinal)
                {
                    ["100"] = (new JobIdentity { JobId = "100" }, new CgroupUsage(Key(cpu1) / 1e6, Number(cur1), Number(peak1))),
                    ["200"] = (new JobIdentity { JobId = "200" }, new CgroupUsage(Key(cpu2) / 1e6, Number(cur2), Number(peak2))),
                    [sluidJob] = (new JobIdentity { JobId = sluidJob, Sluid = Sluid }, new CgroupUsage(Key(cpu3) / 1e6, Number(cur3), Number(peak3))),
                    ["55"] = (new JobIdentity { JobId = "55", Uid = "1001" }, new CgroupUsage(Number(usage55) / 1e9, Number(mem55), Number(max55))),
                };
                Assert.True(result.Problem is null, result.Problem);
                Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), result.Jobs.Select(j => j.Identity.JobId).Order(StringComparer.Ordinal));
                foreach (var job in result.Jobs)
                {
                    Assert.Equal(expected[job.Identity.JobId].Identity, job.Identity);
                    Assert.True(expected[job.Identity.JobId].Usage.Equals(source.Usage[job.Identity.JobId]), $"job {job.Identity.JobId}: expected {expected[job.Identity.JobId].Usage}, read {source.Usage[job.Identity.JobId]}");
                }

                Assert.Equal(sluidJob, source.Sluids[Sluid]);
                return true;
            },
            ciIterations: 150,
            FuzzLimits.TimeOnly,
            threads: 1,
            longRunShare: 0.05);
    }

    [Theory]
    [InlineData("0::/user.slice/user-1000.slice/user@1000.service/app.slice/job_\u0661\u0662\n")]
    [InlineData("0::/system.slice/slurmstepd.scope/job_\uff11\uff12/step_0\n")]
    [InlineData("4:memory:/slurm/uid_1/job_\u0967\n")]
    public void ParseCgroup_NonAsciiDigits_IsNoJob(string text)
    {
        // A user can name a cgroup in a subtree delegated to them; Regex's \d matched Arabic-Indic and fullwidth
        // digits, which made "١٢" a Slurm job id for the process.
        Assert.Null(ProcessJobResolver.ParseCgroup(text, new Dictionary<string, string>()));
    }

    [Fact]
    public async Task Refresh_JobDirectoryWithNonAsciiDigits_IsNoJob()
    {
        Write("cg/system.slice/slurmstepd.scope/job_\u0661\u0662/memory.current", "1\n").Write(V2 + "memory.current", "2\n");
        var source = new SlurmCgroupSource(_tree.Path("cg"), _tree.Path("proc"));

        var result = await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["100"], result.Jobs.Select(j => j.Identity.JobId));
    }

    [Theory]
    [InlineData("Infinity\n")]
    [InlineData("-Infinity\n")]
    [InlineData("NaN\n")]
    [InlineData("1e400\n")]
    [InlineData("-1\n")]
    public void ReadNumber_NotAFiniteCounter_IsNaN(string content)
    {
        Write(V2 + "memory.current", content).Write(V2 + "cpu.stat", "usage_usec " + content);
        var source = new SlurmCgroupSource(_tree.Path("cg"), _tree.Path("proc"));

        Assert.True(double.IsNaN(source.ReadNumber(_tree.Path(V2 + "memory.current"))));
        Assert.True(double.IsNaN(source.ReadKey(_tree.Path(V2 + "cpu.stat"), "usage_usec")));
    }

    private SlurmCgroupFuzzTests Write(string relative, string content)
    {
        // Rewrite in place (same inode), as the kernel regenerates a cgroup file: the source keeps its handles open.
        var path = _tree.Path(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Encoding.Latin1.GetBytes(content));
        return this;
    }

    /// <summary>The documented reading of a one-number file: its first 4 KiB, trimmed; a finite, non-negative number, else NaN.</summary>
    private static double Number(string content)
    {
        var text = Head(content).Trim();
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) && v >= 0 ? v : double.NaN;
    }

    /// <summary>The first "usage_usec &lt;number&gt;" line of a cpu.stat whose number is good; NaN when none is.</summary>
    private static double Key(string content)
    {
        foreach (var line in Head(content).Split('\n'))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && line[..space] == "usage_usec" && Number(line[(space + 1)..]) is var v && !double.IsNaN(v))
            {
                return v;
            }
        }

        return double.NaN;
    }

    /// <summary>
    /// The first 4 KiB of what <see cref="Write"/> put on disk, read back as the source reads it. Latin1 encoding maps
    /// some characters beyond U+00FF to look-alikes (fullwidth "１２" becomes "12"), so the model reads the bytes, not the string.
    /// </summary>
    private static string Head(string content)
    {
        var written = Encoding.Latin1.GetString(Encoding.Latin1.GetBytes(content));
        return written.Length > 4096 ? written[..4096] : written;
    }

    /// <summary>SLURM_JOB_ID from the first 64 KiB of an environ file, if it is a plausible job id.</summary>
    private static string? EnvironmentJob(byte[] environ)
    {
        var text = Encoding.UTF8.GetString(environ, 0, Math.Min(environ.Length, 64 * 1024));
        foreach (var variable in text.Split('\0'))
        {
            if (variable.StartsWith("SLURM_JOB_ID=", StringComparison.Ordinal) && Regex.IsMatch(variable[13..], "^[A-Za-z0-9_\\-./:]{1,253}\\z"))
            {
                return variable[13..];
            }
        }

        return null;
    }
}
