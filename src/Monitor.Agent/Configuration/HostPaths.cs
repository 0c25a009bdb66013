namespace Monitor.Agent.Configuration;

/// <summary>
/// The filesystem roots the agent reads from (<c>--path.procfs</c>, <c>--path.sysfs</c>, <c>--path.rootfs</c>), as in
/// node_exporter. Pointing them at a fixture tree is how the end-to-end tests run the whole agent.
/// </summary>
/// <param name="Procfs">procfs mount point, <c>/proc</c> by default.</param>
/// <param name="Sysfs">sysfs mount point, <c>/sys</c> by default.</param>
/// <param name="Rootfs">Root of the host filesystem, <c>/</c> by default (set to <c>/host</c> in a container).</param>
internal sealed record HostPaths(string Procfs, string Sysfs, string Rootfs)
{
    /// <summary>The real host.</summary>
    public static HostPaths Default { get; } = new("/proc", "/sys", "/");

    /// <summary>A path under procfs.</summary>
    public string Proc(string relative) => Path.Join(Procfs, relative);

    /// <summary>A path under sysfs.</summary>
    public string Sys(string relative) => Path.Join(Sysfs, relative);

    /// <summary>A host path (e.g. a mount point) under rootfs.</summary>
    public string Root(string absolute) => Rootfs == "/" ? absolute : Path.Join(Rootfs, absolute);
}
