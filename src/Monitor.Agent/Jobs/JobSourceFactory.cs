using Monitor.Agent.Jobs.Kubernetes;
using Monitor.Agent.Jobs.Slurm;

namespace Monitor.Agent.Jobs;

/// <summary>Which job sources to read and where (the jobs collector's flags, already validated).</summary>
internal sealed record JobSourceOptions(
    bool SlurmMapping,
    string MappingDirectory,
    string JobInfoDirectory,
    bool Gpustat,
    string GpustatDirectory,
    bool SlurmCgroup,
    string CgroupRoot,
    string Procfs,
    bool Kubernetes,
    string KubeletSocket,
    TimeSpan KubeletTimeout,
    bool Processes,
    TimeProvider Time);

/// <summary>The sources built from <see cref="JobSourceOptions"/>: all of them in refresh order, and the two the jobs collector also uses directly.</summary>
internal sealed record JobSources(IReadOnlyList<IJobSource> All, SlurmCgroupSource? Cgroups, ProcessJobResolver? Processes);

/// <summary>Builds the job sources.</summary>
internal static class JobSourceFactory
{
    /// <summary>Default of <c>--collector.jobs.slurm-mapping-dir</c>, where packaging/slurm's prolog writes.</summary>
    public const string DefaultMappingDirectory = "/run/monitor/job-mapping";

    /// <summary>Default of <c>--collector.jobs.slurm-jobinfo-dir</c>, where packaging/slurm's prolog writes job identities.</summary>
    public const string DefaultJobInfoDirectory = "/run/monitor/jobs";

    /// <summary>Default of <c>--collector.jobs.gpustat-dir</c> (Princeton jobstats' format).</summary>
    public const string DefaultGpustatDirectory = "/run/gpustat";

    /// <summary>The sources <paramref name="options"/> asks for, in the order they are refreshed.</summary>
    public static JobSources Create(JobSourceOptions options)
    {
        var sources = new List<IJobSource>();
        if (options.SlurmMapping)
        {
            sources.Add(new SlurmMappingDirectorySource(options.MappingDirectory));
            sources.Add(new SlurmJobInfoSource(options.JobInfoDirectory));
        }

        if (options.Gpustat)
        {
            sources.Add(new GpustatDirectorySource(options.GpustatDirectory));
        }

        SlurmCgroupSource? cgroups = null;
        if (options.SlurmCgroup)
        {
            cgroups = new SlurmCgroupSource(options.CgroupRoot, options.Procfs);
            sources.Add(cgroups);
        }

        if (options.Kubernetes)
        {
            sources.Add(new KubeletPodResourcesSource(options.KubeletSocket, options.KubeletTimeout, timeProvider: options.Time));
        }

        ProcessJobResolver? processes = null;
        if (options.Processes)
        {
            processes = new ProcessJobResolver(options.Procfs, () => cgroups?.Sluids ?? new Dictionary<string, string>());
        }

        return new JobSources(sources, cgroups, processes);
    }
}
