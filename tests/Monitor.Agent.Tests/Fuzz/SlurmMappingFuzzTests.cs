using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Monitor.Agent.Jobs;
using Monitor.Agent.Jobs.Slurm;
using Monitor.Testing;
using Monitor.Testing.Fuzz;

namespace Monitor.Agent.Tests.Fuzz;

/// <summary>
/// The Slurm mapping and identity files, read through their sources from a folder on disk (the smallest seam: parsing
/// and reading are one loop): dcgm-exporter's mapping directory, Princeton's gpustat directory and the prolog's job
/// identity files. For any set of files with any bytes, a refresh never throws, reports the folder healthy, and
/// returns exactly the jobs an independent reading of the documented format finds.
/// </summary>
public sealed class SlurmMappingFuzzTests : IDisposable
{
    private static readonly Regex JobId = new("^[A-Za-z0-9_\\-./:]{1,253}\\z", RegexOptions.CultureInvariant);
    private static readonly Regex MappingName = new("^([0-9]+)(?:\\.([0-9]+))?\\z", RegexOptions.CultureInvariant);

    private readonly TempTree _tree = new();

    /// <summary>Job ids as the prolog writes them, ones that are too long or hold forbidden characters, and blanks.</summary>
    private static readonly Gen<string> JobText = Gen.Frequency(
        (6, Gen.ULong[0, 99_999_999].Select(id => id.ToString(CultureInfo.InvariantCulture))),
        (2, Gen.String[Gen.Char["0123456789_abcXYZ-./:"], 1, 20]),
        (1, Gen.String[Gen.Char[" \t\r\u00a0;$\"'{}=é\0"], 1, 6]),
        (1, Gen.Int[250, 300].Select(n => new string('7', n))),
        (1, Gen.Const(string.Empty)));

    private static readonly Gen<string> GpustatLine =
        Gen.Select(JobText, Gen.Frequency((3, Gen.UInt.Select(u => u.ToString(CultureInfo.InvariantCulture))), (1, JobText)), Gen.OneOf(" ", "  ", "\t", " \t"), (j, u, s) => j + s + u);

    private static readonly Gen<string> IdentityLine = Gen.Select(
        Gen.OneOf("user", "uid", "account", "partition", "array_job_id", "array_task_id", "sluid", "colour", "", "user ", "="),
        Gen.Frequency(
            (4, Gen.String[Gen.Char['!', '~'], 1, 20]),
            (1, Gen.UInt.Select(u => u.ToString(CultureInfo.InvariantCulture))),
            (1, Gen.String[Gen.Char["a \t\u0007\u0085\u00e9"], 0, 6]),
            (1, Gen.Int[250, 260].Select(n => new string('v', n)))),
        (k, v) => k + "=" + v);

    /// <summary>File content: structured lines (job ids, uids, key=value), random bytes, or a file past the read limit.</summary>
    private static Gen<byte[]> Content(Gen<string> line) => Gen.Frequency(
        (30, line.Array[0, 12].Select(lines => Encoding.UTF8.GetBytes(string.Join('\n', lines)))),
        (10, FuzzGen.Bytes(300)),
        (8, FuzzGen.Mutated(["1234\n5678\n", "4242 1001\n", "user=alice\nuid=1001\naccount=physics\n"]).Select(Encoding.UTF8.GetBytes)),
        (1, line.Array[1, 3].Select(lines => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(string.Join('\n', lines) + "\n", 70_000 / (lines.Sum(l => l.Length + 1) + 1) + 1))))));

    /// <summary>File names: GPU indexes and MIG instances, UUIDs, dot files, and other names a folder may hold.</summary>
    private static readonly Gen<string> FileName = Gen.Frequency(
        (4, Gen.Int[0, 15].Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (2, Gen.Select(Gen.Int[0, 15], Gen.Int[0, 14], (i, g) => string.Create(CultureInfo.InvariantCulture, $"{i}.{g}"))),
        (2, Gen.Select(Gen.OneOf("GPU-", "MIG-", "gpu-", ""), Gen.String[Gen.Char["0123456789abcdef-"], 1, 36], (p, u) => p + u)),
        (1, Gen.OneOf("99999999999", "4294967296", "1.4294967296", "1.", ".1", "01", "3.01")),
        (2, Gen.String[Gen.Char["abcXYZ0123456789._- ~é"], 1, 30].Where(n => n is not ("." or ".."))));

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void TryParseName_AnyName_AgreesWithFormat() =>
        FuzzCheck.Run("SlurmMappingDirectorySource.TryParseName", Gen.Frequency((3, FileName), (1, FuzzGen.Text(["0", "3.1"], 40))), n => n.Length, name =>
        {
            var ok = SlurmMappingDirectorySource.TryParseName(name, out var index, out var instance);
            var expected = ModelMappingName(name);
            Assert.Equal(expected is not null, ok);
            if (ok)
            {
                Assert.Equal(expected!.Value, (index, instance));
            }

            return ok;
        }, ciIterations: 1_000, FuzzLimits.TimeOnly);

    [Fact]
    public void MappingAddJobs_AnyBytes_AddsTheJobsTheLinesName() =>
        FuzzCheck.Run(
            "SlurmMappingDirectorySource.AddJobs",
            Gen.Select(Gen.Int[0, 15], Content(JobText)).Array[1, 3],
            files => files.Sum(f => (long)f.Item2.Length),
            files =>
            {
                var jobs = new Dictionary<string, List<GpuRef>>(StringComparer.Ordinal);
                foreach (var (index, bytes) in files)
                {
                    SlurmMappingDirectorySource.AddJobs(MappingFiles.Lines(Head(bytes, 64 * 1024)), new GpuRef(null, index), jobs);
                }

                return jobs;
            },
            (files, jobs) =>
            {
                AssertSameJobs(ModelMapping(files.Select(f => (new GpuRef(null, f.Item1), Decode(f.Item2, 64 * 1024)))), jobs);
                return jobs.Count > 0;
            },
            ciIterations: 1_000);

    [Fact]
    public void GpustatAddJobs_AnyBytes_AddsTheJobsAndUidsTheLinesName() =>
        FuzzCheck.Run(
            "GpustatDirectorySource.AddJobs",
            Gen.Select(FileName, Content(GpustatLine)).Array[1, 3],
            files => files.Sum(f => (long)f.Item2.Length + f.Item1.Length),
            files =>
            {
                var jobs = new Dictionary<string, (string? Uid, List<GpuRef> Gpus)>(StringComparer.Ordinal);
                var names = new GpuRef?[files.Length];
                for (var i = 0; i < files.Length; i++)
                {
                    if (GpustatDirectorySource.TryParseName(files[i].Item1, out var gpu))
                    {
                        names[i] = gpu;
                        GpustatDirectorySource.AddJobs(MappingFiles.Lines(Head(files[i].Item2, 64 * 1024)), gpu, jobs);
                    }
                }

                return (names, jobs);
            },
            (files, parsed) =>
            {
                var (names, jobs) = parsed;
                Assert.Equal(files.Select(f => ModelGpustatName(f.Item1)), names);
                var (expected, uids) = ModelGpustat(files.Where(f => ModelGpustatName(f.Item1) is not null).Select(f => (ModelGpustatName(f.Item1)!.Value, Decode(f.Item2, 64 * 1024))));
                AssertSameJobs(expected, jobs.ToDictionary(j => j.Key, j => j.Value.Gpus, StringComparer.Ordinal));
                Assert.Equal(uids.OrderBy(u => u.Key, StringComparer.Ordinal), jobs.Select(j => KeyValuePair.Create(j.Key, j.Value.Uid)).OrderBy(u => u.Key, StringComparer.Ordinal));
                return jobs.Count > 0;
            },
            ciIterations: 1_000);

    [Fact]
    public void ParseIdentity_AnyBytes_ReadsTheKnownKeys() =>
        FuzzCheck.Run(
            "SlurmJobInfoSource.ParseIdentity",
            Content(IdentityLine),
            bytes => bytes.Length,
            bytes => SlurmJobInfoSource.ParseIdentity("4242", MappingFiles.Lines(Head(bytes, 4096))),
            (bytes, identity) =>
            {
                Assert.Equal(ModelIdentity("4242", Decode(bytes, 4096)), identity);
                return identity != new JobIdentity { JobId = "4242" };
            },
            ciIterations: 1_000);

    [Fact]
    public void MappingDirectory_AnyFiles_ReturnsTheJobsTheFilesName() =>
        RunFolder("SlurmMappingDirectorySource", Gen.Select(FileName, Content(JobText)).Array[0, 6], "map", folder =>
        {
            var result = Refresh(new SlurmMappingDirectorySource(folder));
            var expected = ModelMapping(ReadBack(folder, 64 * 1024)
                .Where(f => ModelMappingName(f.Name) is not null)
                .Select(f => (new GpuRef(null, ModelMappingName(f.Name)!.Value.Index, ModelMappingName(f.Name)!.Value.Instance), f.Text)));

            AssertJobs(expected, result, identity => new JobIdentity { JobId = identity });
            return result.Jobs.Count > 0;
        });

    [Fact]
    public void GpustatDirectory_AnyFiles_ReturnsTheJobsTheFilesName() =>
        RunFolder(
            "GpustatDirectorySource",
            Gen.Select(FileName, Content(GpustatLine)).Array[0, 6],
            "gpustat",
            folder =>
            {
                var result = Refresh(new GpustatDirectorySource(folder));
                var (expected, uids) = ModelGpustat(ReadBack(folder, 64 * 1024)
                    .Where(f => ModelGpustatName(f.Name) is not null)
                    .Select(f => (ModelGpustatName(f.Name)!.Value, f.Text)));

                AssertJobs(expected, result, id => new JobIdentity { JobId = id, Uid = uids[id] });
                return result.Jobs.Count > 0;
            });

    [Fact]
    public void JobInfoDirectory_AnyFiles_ReturnsEachJobsIdentity() =>
        RunFolder(
            "SlurmJobInfoSource",
            Gen.Select(Gen.Frequency((3, JobText.Where(j => j.Length is > 0 and < 200 && !j.Contains('/', StringComparison.Ordinal) && !j.Contains('\0', StringComparison.Ordinal) && j is not ("." or ".."))), (1, FileName)), Content(IdentityLine)).Array[0, 6],
            "jobs",
            folder =>
            {
                var result = Refresh(new SlurmJobInfoSource(folder));
                var expected = ReadBack(folder, 4096)
                    .Where(f => !f.Name.StartsWith('.') && JobId.IsMatch(f.Name))
                    .ToDictionary(f => f.Name, f => ModelIdentity(f.Name, f.Text), StringComparer.Ordinal);

                Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), result.Jobs.Select(j => j.Identity.JobId).Order(StringComparer.Ordinal));
                foreach (var job in result.Jobs)
                {
                    Assert.Equal(expected[job.Identity.JobId], job.Identity);
                    Assert.Empty(job.Gpus);
                }

                return result.Jobs.Count > 0;
            });

    /// <summary>dcgm-exporter's format: each line a job id; every GPU file adds its GPU to each job it names, duplicates kept.</summary>
    private static Dictionary<string, List<GpuRef>> ModelMapping(IEnumerable<(GpuRef Gpu, string Text)> files)
    {
        var jobs = new Dictionary<string, List<GpuRef>>(StringComparer.Ordinal);
        foreach (var (gpu, text) in files)
        {
            foreach (var line in text.Split('\n'))
            {
                if (JobId.IsMatch(line.Trim()))
                {
                    CollectionsMarshalGet(jobs, line.Trim()).Add(gpu);
                }
            }
        }

        return jobs;
    }

    /// <summary>jobstats' format: "&lt;job&gt; [&lt;uid&gt;]" per line, space separated; a job's uid is the first one seen; GPUs once each.</summary>
    private static (Dictionary<string, List<GpuRef>> Jobs, Dictionary<string, string?> Uids) ModelGpustat(IEnumerable<(GpuRef Gpu, string Text)> files)
    {
        var jobs = new Dictionary<string, List<GpuRef>>(StringComparer.Ordinal);
        var uids = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (gpu, text) in files)
        {
            foreach (var line in text.Split('\n'))
            {
                var parts = line.Split(' ').Select(p => p.Trim()).Where(p => p.Length > 0).ToArray();
                if (parts.Length == 0 || !JobId.IsMatch(parts[0]))
                {
                    continue;
                }

                if (!uids.ContainsKey(parts[0]))
                {
                    uids[parts[0]] = parts.Length > 1 && IsUInt(parts[1]) ? parts[1] : null;
                }

                var gpus = CollectionsMarshalGet(jobs, parts[0]);
                if (!gpus.Contains(gpu))
                {
                    gpus.Add(gpu);
                }
            }
        }

        return (jobs, uids);
    }

    private static GpuRef? ModelGpustatName(string name) =>
        Regex.IsMatch(name, "^[0-9]+\\z") && BigInteger.Parse(name, CultureInfo.InvariantCulture) <= int.MaxValue ? new GpuRef(null, int.Parse(name, CultureInfo.InvariantCulture))
        : name.StartsWith("GPU-", StringComparison.Ordinal) || name.StartsWith("MIG-", StringComparison.Ordinal) ? new GpuRef(name, null)
        : null;

    /// <summary>The prolog's format: key=value lines; known keys with a value of 1 to 253 characters and no control character; the last one wins.</summary>
    private static JobIdentity ModelIdentity(string id, string text)
    {
        var identity = new JobIdentity { JobId = id };
        foreach (var line in text.Split('\n'))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var v = equals > 0 ? line[(equals + 1)..].Trim() : "";
            if (v.Length is 0 or > 253 || v.Any(char.IsControl))
            {
                continue;
            }

            identity = line[..equals] switch
            {
                "user" => identity with { User = v },
                "uid" when IsUInt(v) => identity with { Uid = v },
                "account" => identity with { Account = v },
                "partition" => identity with { Partition = v },
                "array_job_id" => identity with { ArrayJobId = v },
                "array_task_id" => identity with { ArrayTaskId = v },
                "sluid" => identity with { Sluid = v },
                _ => identity,
            };
        }

        return identity;
    }

    private static bool IsUInt(string text) => Regex.IsMatch(text, "^[0-9]+\\z") && BigInteger.Parse(text, CultureInfo.InvariantCulture) <= uint.MaxValue;

    private static ReadOnlySpan<byte> Head(byte[] bytes, int limit) => bytes.AsSpan(0, Math.Min(bytes.Length, limit));

    private static string Decode(byte[] bytes, int limit) => Encoding.UTF8.GetString(Head(bytes, limit));

    private static void AssertSameJobs(Dictionary<string, List<GpuRef>> expected, Dictionary<string, List<GpuRef>> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (job, gpus) in actual)
        {
            Assert.Equal(Sorted(expected[job]), Sorted(gpus));
        }
    }

    private static JobSourceResult Refresh(IJobSource source)
    {
        var result = source.RefreshAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        Assert.True(result.Problem is null, result.Problem);
        return result;
    }

    /// <summary>Writes each case's files into a fresh folder and checks the source against it; one thread, as the folder is shared.</summary>
    private void RunFolder(string name, Gen<(string Name, byte[] Content)[]> files, string folder, Func<string, bool> check)
    {
        var path = _tree.Path(folder);
        FuzzCheck.Run(name, files, f => f.Sum(x => (long)x.Content.Length), caseFiles =>
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }

            Directory.CreateDirectory(path);
            foreach (var (file, content) in caseFiles)
            {
                File.WriteAllBytes(Path.Join(path, file), content);
            }

            return check(path);
        }, ciIterations: 150, FuzzLimits.TimeOnly, threads: 1, longRunShare: 0.05);
    }

    /// <summary>Each file in the folder (in the order the folder lists them) with its first <paramref name="limit"/> bytes as UTF-8.</summary>
    private static IEnumerable<(string Name, string Text)> ReadBack(string folder, int limit) =>
        Directory.EnumerateFiles(folder).Select(path =>
        {
            var bytes = File.ReadAllBytes(path);
            return (Path.GetFileName(path), Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, limit)));
        }).ToList();

    private static (int Index, uint? Instance)? ModelMappingName(string name)
    {
        var match = MappingName.Match(name);
        if (!match.Success || BigInteger.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) > int.MaxValue)
        {
            return null;
        }

        var index = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        if (!match.Groups[2].Success)
        {
            return (index, null);
        }

        return BigInteger.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) <= uint.MaxValue
            ? (index, uint.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))
            : null;
    }

    private static List<GpuRef> CollectionsMarshalGet(Dictionary<string, List<GpuRef>> jobs, string id)
    {
        if (!jobs.TryGetValue(id, out var gpus))
        {
            gpus = [];
            jobs[id] = gpus;
        }

        return gpus;
    }

    private static void AssertJobs(Dictionary<string, List<GpuRef>> expected, JobSourceResult result, Func<string, JobIdentity> identity)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), result.Jobs.Select(j => j.Identity.JobId).Order(StringComparer.Ordinal));
        foreach (var job in result.Jobs)
        {
            Assert.Equal(identity(job.Identity.JobId), job.Identity);
            Assert.Equal(Sorted(expected[job.Identity.JobId]), Sorted(job.Gpus));
        }
    }

    private static List<string> Sorted(IEnumerable<GpuRef> gpus) => [.. gpus.Select(g => g.ToString()).Order(StringComparer.Ordinal)];
}
