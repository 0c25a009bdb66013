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
    private static readonly Regex JobId = new("^[A-Za-z0-9_\\-./:]{1,253}$", RegexOptions.CultureInvariant);
    private static readonly Regex MappingName = new("^([0-9]+)(?:\\.([0-9]+))?$", RegexOptions.CultureInvariant);

    private readonly TempTree _tree = new();

    /// <summary>Job ids as the prolog writes them, ones that are too long or hold forbidden characters, and blanks.</summary>
    private static readonly Gen<string> JobText = Gen.Frequency(
        (6, Gen.ULong[0, 99_999_999].Select(id => id.ToString(CultureInfo.InvariantCulture))),
        (2, Gen.String[Gen.Char["0123456789_abcXYZ-./:"], 1, 20]),
        (1, Gen.String[Gen.Char[" \t\r\u00a0;$\"'{}=é\0"], 1, 6]),
        (1, Gen.Int[250, 300].Select(n => new string('7', n))),
        (1, Gen.Const(string.Empty)));

    /// <summary>File content: structured lines (job ids, uids, key=value), random bytes, or a file past the read limit.</summary>
    private static Gen<byte[]> Content(Gen<string> line) => Gen.Frequency(
        (12, line.Array[0, 12].Select(lines => Encoding.UTF8.GetBytes(string.Join('\n', lines)))),
        (4, FuzzGen.Bytes(300)),
        (3, FuzzGen.Mutated(["1234\n5678\n", "4242 1001\n", "user=alice\nuid=1001\naccount=physics\n"]).Select(Encoding.UTF8.GetBytes)),
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
    public void MappingDirectory_AnyFiles_ReturnsTheJobsTheFilesName() =>
        RunFolder("SlurmMappingDirectorySource", Gen.Select(FileName, Content(JobText)).Array[0, 6], "map", folder =>
        {
            var result = Refresh(new SlurmMappingDirectorySource(folder));
            var expected = new Dictionary<string, List<GpuRef>>(StringComparer.Ordinal);
            foreach (var (name, text) in ReadBack(folder, 64 * 1024))
            {
                if (ModelMappingName(name) is not { } gpu)
                {
                    continue;
                }

                foreach (var line in text.Split('\n'))
                {
                    if (JobId.IsMatch(line.Trim()))
                    {
                        (CollectionsMarshalGet(expected, line.Trim())).Add(new GpuRef(null, gpu.Index, gpu.Instance));
                    }
                }
            }

            AssertJobs(expected, result, identity => new JobIdentity { JobId = identity });
            return result.Jobs.Count > 0;
        });

    [Fact]
    public void GpustatDirectory_AnyFiles_ReturnsTheJobsTheFilesName() =>
        RunFolder(
            "GpustatDirectorySource",
            Gen.Select(FileName, Content(Gen.Select(JobText, Gen.Frequency((3, Gen.UInt.Select(u => u.ToString(CultureInfo.InvariantCulture))), (1, JobText)), Gen.OneOf(" ", "  ", "\t", " \t"), (j, u, s) => j + s + u))).Array[0, 6],
            "gpustat",
            folder =>
            {
                var result = Refresh(new GpustatDirectorySource(folder));
                var expected = new Dictionary<string, List<GpuRef>>(StringComparer.Ordinal);
                var uids = new Dictionary<string, string?>(StringComparer.Ordinal);
                foreach (var (name, text) in ReadBack(folder, 64 * 1024))
                {
                    GpuRef gpu;
                    if (Regex.IsMatch(name, "^[0-9]+$") && BigInteger.Parse(name, CultureInfo.InvariantCulture) <= int.MaxValue)
                    {
                        gpu = new GpuRef(null, int.Parse(name, CultureInfo.InvariantCulture));
                    }
                    else if (name.StartsWith("GPU-", StringComparison.Ordinal) || name.StartsWith("MIG-", StringComparison.Ordinal))
                    {
                        gpu = new GpuRef(name, null);
                    }
                    else
                    {
                        continue;
                    }

                    foreach (var line in text.Split('\n'))
                    {
                        // Fields are separated by spaces; each is trimmed of other white space.
                        var parts = line.Split(' ').Select(p => p.Trim()).Where(p => p.Length > 0).ToArray();
                        if (parts.Length == 0 || !JobId.IsMatch(parts[0]))
                        {
                            continue;
                        }

                        if (!uids.ContainsKey(parts[0]))
                        {
                            uids[parts[0]] = parts.Length > 1 && Regex.IsMatch(parts[1], "^[0-9]+$") && BigInteger.Parse(parts[1], CultureInfo.InvariantCulture) <= uint.MaxValue ? parts[1] : null;
                        }

                        var gpus = CollectionsMarshalGet(expected, parts[0]);
                        if (!gpus.Contains(gpu))
                        {
                            gpus.Add(gpu);
                        }
                    }
                }

                AssertJobs(expected, result, id => new JobIdentity { JobId = id, Uid = uids[id] });
                return result.Jobs.Count > 0;
            });

    [Fact]
    public void JobInfoDirectory_AnyFiles_ReturnsEachJobsIdentity()
    {
        var keys = Gen.OneOf("user", "uid", "account", "partition", "array_job_id", "array_task_id", "sluid", "colour", "", "user ", "=");
        var value = Gen.Frequency(
            (4, Gen.String[Gen.Char['!', '~'], 1, 20]),
            (1, Gen.UInt.Select(u => u.ToString(CultureInfo.InvariantCulture))),
            (1, Gen.String[Gen.Char["a \t\u0007\u0085\u00e9"], 0, 6]),
            (1, Gen.Int[250, 260].Select(n => new string('v', n))));
        RunFolder(
            "SlurmJobInfoSource",
            Gen.Select(Gen.Frequency((3, JobText.Where(j => j.Length is > 0 and < 200 && !j.Contains('/', StringComparison.Ordinal) && !j.Contains('\0', StringComparison.Ordinal) && j is not ("." or ".."))), (1, FileName)), Content(Gen.Select(keys, value, (k, v) => k + "=" + v))).Array[0, 6],
            "jobs",
            folder =>
            {
                var result = Refresh(new SlurmJobInfoSource(folder));
                var expected = new Dictionary<string, JobIdentity>(StringComparer.Ordinal);
                foreach (var (name, text) in ReadBack(folder, 4096))
                {
                    if (name.StartsWith('.') || !JobId.IsMatch(name))
                    {
                        continue;
                    }

                    var identity = new JobIdentity { JobId = name };
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
                            "uid" when Regex.IsMatch(v, "^[0-9]+$") && BigInteger.Parse(v, CultureInfo.InvariantCulture) <= uint.MaxValue => identity with { Uid = v },
                            "account" => identity with { Account = v },
                            "partition" => identity with { Partition = v },
                            "array_job_id" => identity with { ArrayJobId = v },
                            "array_task_id" => identity with { ArrayTaskId = v },
                            "sluid" => identity with { Sluid = v },
                            _ => identity,
                        };
                    }

                    expected[name] = identity;
                }

                Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), result.Jobs.Select(j => j.Identity.JobId).Order(StringComparer.Ordinal));
                foreach (var job in result.Jobs)
                {
                    Assert.Equal(expected[job.Identity.JobId], job.Identity);
                    Assert.Empty(job.Gpus);
                }

                return result.Jobs.Count > 0;
            });
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
        }, ciIterations: 150, FuzzLimits.TimeOnly, threads: 1);
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
