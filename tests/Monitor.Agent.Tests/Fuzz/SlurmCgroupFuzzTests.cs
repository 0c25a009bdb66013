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
/// cgroup v2 and v1 tree whose files (cpu.stat, memory.current/peak/max, cpuacct.usage, memory.limit_in_bytes,
/// cpuset.cpus.effective, cpuset.effective_cpus, cgroup.procs, a task's environ) hold any bytes, never throws and
/// reports for each job exactly the usage an independent reading finds: the number in the file when it is a finite,
/// non-negative number, NaN otherwise; a limit of "max" or 2^62 bytes and more is none (+∞); a cpuset counts its
/// distinct CPUs.
/// </summary>
public sealed class SlurmCgroupFuzzTests : IDisposable
{
    private const string Sluid = "s5K1KKYAYG5D00";
    private const string V2 = "cg/system.slice/slurmstepd.scope/job_100/";
    private const string V2Node = "cg/system.slice/node7_slurmstepd.scope/job_200/";
    private const string V2Sluid = "cg/system.slice/slurmstepd.scope/" + Sluid + "/";
    private const string V1Cpu = "cg/cpuacct/slurm/uid_1001/job_55/";
    private const string V1Memory = "cg/memory/slurm/uid_1001/job_55/";
    private const string V1Cpuset = "cg/cpuset/slurm/uid_1001/job_55/";
    private const string V1Cpu56 = "cg/cpuacct/slurm/uid_1001/job_56/";
    private const string V1Cpuset56 = "cg/cpuset/slurm/uid_1001/job_56/";

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
        (4, Gen.String[Gen.Frequency((9, Gen.Char["0123456789"]), (1, Gen.Char["_x/ é"])), 1, 12].Where(id => id is not ("100" or "200" or "55" or "56")).Select(id => Encoding.UTF8.GetBytes($"HOME=/home/a\0SLURM_JOB_ID={id}\0SLURM_JOB_USER=a\0"))),
        (2, FuzzGen.Bytes(200)),
        (1, Gen.Const(Encoding.UTF8.GetBytes(new string('A', 70_000) + "\0SLURM_JOB_ID=300\0"))));

    /// <summary>What a cpuset file may hold: kernel lists mostly, repeats and overlaps, and every way a list can be wrong.</summary>
    private static readonly Gen<string> CpuListText = Gen.Frequency(
        (4, Gen.Select(Gen.Int[0, 300], Gen.Int[0, 40]).Array[0, 12].Select(ranges => string.Join(',', ranges.Select(r => r.Item2 == 0
            ? r.Item1.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{r.Item1}-{r.Item1 + r.Item2 - 1}"))) + "\n")),
        (1, Gen.OneOf("0-3,64-67\n", "0-3,2-5\n", "5,3,5\n", "0-3,\n", ",\n", "3-1\n", "0-65536\n", "0-65536,0\n", "65537\n", "-1\n", "0--3\n", " 0-3 \n", "0, 1\n", "\n", "", "1-\n")),
        (2, FuzzGen.Mutated(["0-3,8-11\n", "0\n", "0-63,128-191\n"], 3)),
        (1, FuzzGen.Latin1(64)),
        // Longer than the 4 KiB read: a list that may be cut off counts as unknown, not as its first part.
        (1, Gen.Int[1_200, 2_000].Select(n => string.Join(',', Enumerable.Range(0, n).Select(c => (2 * c).ToString(CultureInfo.InvariantCulture))) + "\n")));

    /// <summary>What a memory limit file may hold: the counter texts, "max", and the values around "no limit".</summary>
    private static readonly Gen<string> LimitText = Gen.Frequency(
        (4, NumberText),
        (1, Gen.OneOf("max\n", "max", " max \n", "Max\n", "maxx\n", "9223372036854771712\n", "9223372036854710272\n", "4611686018427387904\n", "4611686018427387903\n", "4611686018427379712\n", "0\n")));

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
    public void ParseCpus_AnyText_IsTheNumberOfDistinctCpusOrNaN()
    {
        var scratch = new List<int>();
        FuzzCheck.Run(
            "SlurmCgroupSource.ParseCpus",
            CpuListText,
            text => text.Length,
            text => SlurmCgroupSource.ParseCpus(text, scratch),
            (text, value) =>
            {
                Assert.Equal(CpusOfText(text), value);
                return !double.IsNaN(value);
            },
            ciIterations: 2_000,
            // One list may name every CPU up to 65,536 once: 65,537 ints in the reused list, plus the slack.
            new FuzzLimits(FixedBytes: 3 << 20),
            threads: 1);
    }

    [Fact]
    public void ParseLimit_AnyText_IsTheLimitNoLimitOrNaN() =>
        FuzzCheck.Run(
            "SlurmCgroupSource.ParseLimit",
            LimitText,
            text => text.Length,
            text => SlurmCgroupSource.ParseLimit(Head(text)),
            (text, value) =>
            {
                Assert.Equal(Limit(text), value);
                return !double.IsNaN(value);
            },
            ciIterations: 2_000);

    [Theory]
    [InlineData("max\n", double.PositiveInfinity)]
    [InlineData("9223372036854771712\n", double.PositiveInfinity)] // v1's "no limit" with 4 KiB pages: 2^63 − 4096
    [InlineData("9223372036854710272\n", double.PositiveInfinity)] // … with 64 KiB pages
    [InlineData("4611686018427387904\n", double.PositiveInfinity)] // 2^62
    [InlineData("4611686018427379712\n", 4611686018427379712.0)]   // 2^62 − 8192: a limit, however absurd
    [InlineData("17179869184\n", 17179869184.0)]
    [InlineData("0\n", 0.0)]
    [InlineData("-1\n", double.NaN)]
    [InlineData("\n", double.NaN)]
    public void ParseLimit_KernelValues(string text, double expected) => Assert.Equal(expected, SlurmCgroupSource.ParseLimit(text));

    [Theory]
    [InlineData("0-3,64-67\n", 8)]
    [InlineData("0-3,2-5\n", 6)]     // overlapping ranges count each CPU once
    [InlineData("7\n", 1)]
    [InlineData("\n", double.NaN)]   // an empty set is no answer
    [InlineData("0-3,x\n", double.NaN)]
    [InlineData("0-65536,0\n", double.NaN)] // more than 65,537 listed
    [InlineData("0\u0000\n", double.NaN)] // int.TryParse would read "0\0" as 0
    public void ParseCpus_KernelValues(string text, double expected) => Assert.Equal(expected, SlurmCgroupSource.ParseCpus(text, []));

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
            Gen.Select(NumberText, NumberText, NumberText),
            Gen.Select(Gen.Select(CpuListText, LimitText, CpuListText, LimitText), Gen.Select(CpuListText, CpuListText, LimitText, CpuListText)));
        FuzzCheck.Run(
            "SlurmCgroupSource.RefreshAsync",
            files,
            f => 1,
            f =>
            {
                var ((cpu1, cur1, peak1, cpu2, cur2, peak2), (cpu3, cur3, peak3, procs, environ), (usage55, mem55, max55), ((cpus1, limit1, cpus2, limit2), (effective55, cpus55, limit55, cpus56))) = f;
                Write(V2 + "cpu.stat", cpu1).Write(V2 + "memory.current", cur1).Write(V2 + "memory.peak", peak1)
                    .Write(V2Node + "cpu.stat", cpu2).Write(V2Node + "memory.current", cur2).Write(V2Node + "memory.peak", peak2)
                    .Write(V2Sluid + "cpu.stat", cpu3).Write(V2Sluid + "memory.current", cur3).Write(V2Sluid + "memory.peak", peak3)
                    .Write(V2Sluid + "step_0/cgroup.procs", procs)
                    .Write(V1Cpu + "cpuacct.usage", usage55).Write(V1Memory + "memory.usage_in_bytes", mem55).Write(V1Memory + "memory.max_usage_in_bytes", max55)
                    .Write(V2 + "cpuset.cpus.effective", cpus1).Write(V2 + "memory.max", limit1).Write(V2Node + "cpuset.cpus.effective", cpus2).Write(V2Node + "memory.max", limit2)
                    .Write(V1Cpuset + "cpuset.effective_cpus", effective55).Write(V1Cpuset + "cpuset.cpus", cpus55).Write(V1Memory + "memory.limit_in_bytes", limit55)
                    .Write(V1Cpu56 + "cpuacct.usage", "1000\n").Write(V1Cpuset56 + "cpuset.cpus", cpus56);
                Directory.CreateDirectory(_tree.Path("proc/4242"));
                File.WriteAllBytes(_tree.Path("proc/4242/environ"), environ);

                var result = source.RefreshAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();

                var sluidJob = procs.Split(["\r\n", "\n", "\r"], StringSplitOptions.None).Any(l => Regex.IsMatch(l, "^[0-9]+\\z") && System.Numerics.BigInteger.Parse(l, CultureInfo.InvariantCulture) == 4242)
                    ? EnvironmentJob(environ) ?? Sluid
                    : Sluid;
                var expected = new Dictionary<string, (JobIdentity Identity, CgroupUsage Usage)>(StringComparer.Ordinal)
                {
                    ["100"] = (new JobIdentity { JobId = "100" }, new CgroupUsage(Key(cpu1) / 1e6, Number(cur1), Number(peak1), CpusOfList(cpus1), Limit(limit1))),
                    ["200"] = (new JobIdentity { JobId = "200" }, new CgroupUsage(Key(cpu2) / 1e6, Number(cur2), Number(peak2), CpusOfList(cpus2), Limit(limit2))),
                    [sluidJob] = (new JobIdentity { JobId = sluidJob, Sluid = Sluid }, new CgroupUsage(Key(cpu3) / 1e6, Number(cur3), Number(peak3), double.NaN, double.NaN)),
                    ["55"] = (new JobIdentity { JobId = "55", Uid = "1001" }, new CgroupUsage(
                        Number(usage55) / 1e9, Number(mem55), Number(max55), !double.IsNaN(CpusOfList(effective55)) ? CpusOfList(effective55) : CpusOfList(cpus55), Limit(limit55))),

                    // A kernel without cpuset.effective_cpus (nor, here, a memory cgroup): cpuset.cpus counts.
                    ["56"] = (new JobIdentity { JobId = "56", Uid = "1001" }, new CgroupUsage(1000 / 1e9, double.NaN, double.NaN, CpusOfList(cpus56), double.NaN)),
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

    /// <summary>
    /// The documented reading of a memory limit: "max", or a number of 2^62 bytes or more, is no limit (+∞); otherwise
    /// the number, as <see cref="Number"/> reads it.
    /// </summary>
    private static double Limit(string content)
    {
        var value = Number(content);
        return Head(content).Trim() == "max" || value >= Math.Pow(2, 62) ? double.PositiveInfinity : value;
    }

    /// <summary>The documented reading of a cpuset file: as read (Latin1), and no answer when it fills the 4 KiB read (it may be cut off).</summary>
    private static double CpusOfList(string content)
    {
        var written = Encoding.Latin1.GetString(Encoding.Latin1.GetBytes(content));
        return written.Length >= 4096 ? double.NaN : CpusOfText(written);
    }

    /// <summary>
    /// The documented reading of a cpuset list, written apart from the parser: trimmed; comma-separated items "N" or
    /// "N-M" (ASCII digits, M ≥ N, every number at most 65,536), one trailing comma allowed, at most 65,537 CPUs listed
    /// in all; the number of distinct CPUs, NaN when malformed or none.
    /// </summary>
    private static double CpusOfText(string content)
    {
        var text = content.Trim();
        if (text.Length > 1 && text[^1] == ',')
        {
            text = text[..^1];
        }

        var cpus = new HashSet<int>();
        long listed = 0;
        foreach (var item in text.Length == 0 ? [] : text.Split(','))
        {
            var match = Regex.Match(item, "^([0-9]+)(?:-([0-9]+))?\\z");
            if (!match.Success)
            {
                return double.NaN;
            }

            var first = System.Numerics.BigInteger.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            var last = match.Groups[2].Success ? System.Numerics.BigInteger.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : first;
            if (first > 65_536 || last > 65_536 || last < first || (listed += (long)(last - first + 1)) > 65_537)
            {
                return double.NaN;
            }

            for (var cpu = (int)first; cpu <= (int)last; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return cpus.Count > 0 ? cpus.Count : double.NaN;
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
