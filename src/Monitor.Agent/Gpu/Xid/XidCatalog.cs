namespace Monitor.Agent.Gpu.Xid;

/// <summary>NVIDIA's resolution bucket for an XID: what the operator should do when it happens.</summary>
internal enum XidResolution
{
    /// <summary>Not in the catalog: look the code up in NVIDIA's Xid catalog.</summary>
    Unknown,

    /// <summary>An application fault: restart the application; the GPU is fine.</summary>
    RestartApp,

    /// <summary>Reset the GPU (<c>nvidia-smi -r</c>) after draining its work.</summary>
    ResetGpu,

    /// <summary>Reboot the node (bare metal); reseat or RMA if it recurs.</summary>
    RestartBareMetal,

    /// <summary>Informational: no action (e.g. a remap recorded for the next reset).</summary>
    Ignore,

    /// <summary>Investigate with NVIDIA's workflow for this code, usually together with a companion XID.</summary>
    Workflow,

    /// <summary>Report the issue to NVIDIA.</summary>
    ReportIssue,

    /// <summary>The recovery action changed: follow the XID it refers to.</summary>
    FollowLinked,
}

/// <summary>
/// NVIDIA's XID resolution buckets (Xid catalog for Ampere and later, as NVIDIA NVSentinel encodes them in
/// <c>xiderrorsmapping.csv</c>; see ../shared/reference/alerting.md §3). Used to pre-seed
/// <c>gpu_xid_errors_total</c> with 0 for every known code, so the first occurrence is visible to <c>increase()</c>,
/// and to tell the operator what to do in the XID log event (<c>gpu.xid.resolution</c>).
/// </summary>
internal static class XidCatalog
{
    private static readonly Dictionary<uint, (XidResolution Resolution, string Description)> Entries = Build();

    /// <summary>Every code in the catalog, ascending.</summary>
    public static IReadOnlyList<uint> KnownCodes { get; } = [.. Entries.Keys.Order()];

    /// <summary>The bucket for <paramref name="xid"/>; <see cref="XidResolution.Unknown"/> when not catalogued.</summary>
    public static XidResolution Resolve(uint xid) => Entries.TryGetValue(xid, out var entry) ? entry.Resolution : XidResolution.Unknown;

    /// <summary>A short description of <paramref name="xid"/>, or a pointer to NVIDIA's catalog.</summary>
    public static string Describe(uint xid) =>
        Entries.TryGetValue(xid, out var entry) && entry.Description.Length > 0 ? entry.Description : $"Xid {xid}: see NVIDIA's Xid catalog";

    /// <summary>The ECS keyword for a bucket (<c>gpu.xid.resolution</c>), as NVSentinel spells it.</summary>
    public static string Code(XidResolution resolution) => resolution switch
    {
        XidResolution.RestartApp => "RESTART_APP",
        XidResolution.ResetGpu => "RESET_GPU",
        XidResolution.RestartBareMetal => "RESTART_BM",
        XidResolution.Ignore => "IGNORE",
        XidResolution.Workflow => "WORKFLOW_XID",
        XidResolution.ReportIssue => "CONTACT_SUPPORT",
        XidResolution.FollowLinked => "FOLLOW_LINKED_XID",
        _ => "UNKNOWN",
    };

    /// <summary>What to do, in words, for a log line.</summary>
    public static string Action(XidResolution resolution) => resolution switch
    {
        XidResolution.RestartApp => "restart the application; the GPU needs no action",
        XidResolution.ResetGpu => "drain the GPU's work, then reset the GPU",
        XidResolution.RestartBareMetal => "drain the node, then reboot it; reseat or RMA the GPU if it recurs",
        XidResolution.Ignore => "no action needed",
        XidResolution.Workflow => "investigate with NVIDIA's workflow for this Xid and act on its companion Xid",
        XidResolution.ReportIssue => "report the issue to NVIDIA",
        XidResolution.FollowLinked => "follow the Xid this one refers to",
        _ => "look the code up in NVIDIA's Xid catalog",
    };

    private static Dictionary<uint, (XidResolution, string)> Build()
    {
        var entries = new Dictionary<uint, (XidResolution, string)>
        {
            [13] = (XidResolution.RestartApp, "Graphics engine exception"),
            [31] = (XidResolution.RestartApp, "GPU memory page fault (MMU fault)"),
            [94] = (XidResolution.RestartApp, "Contained ECC error"),
            [43] = (XidResolution.Ignore, "GPU stopped processing"),
            [63] = (XidResolution.Ignore, "Row remap or page retirement recorded; applied at the next reset"),
            [92] = (XidResolution.Ignore, "Excessive single-bit ECC errors"),
            [45] = (XidResolution.Workflow, "Preemptive cleanup after previous errors"),
            [48] = (XidResolution.Workflow, "Double-bit ECC error"),
            [74] = (XidResolution.Workflow, "NVLink error"),
            [46] = (XidResolution.ResetGpu, string.Empty),
            [62] = (XidResolution.ResetGpu, "Internal micro-controller (PMU) halt"),
            [64] = (XidResolution.ResetGpu, "Row remap or page retirement failure"),
            [95] = (XidResolution.ResetGpu, "Uncontained ECC error"),
            [109] = (XidResolution.ResetGpu, string.Empty),
            [119] = (XidResolution.ResetGpu, "GSP RPC timeout"),
            [120] = (XidResolution.ResetGpu, "GSP error"),
            [136] = (XidResolution.ResetGpu, string.Empty),
            [140] = (XidResolution.ResetGpu, "Unrecovered ECC error (ECC escape)"),
            [143] = (XidResolution.ResetGpu, string.Empty),
            [155] = (XidResolution.ResetGpu, string.Empty),
            [156] = (XidResolution.ResetGpu, string.Empty),
            [158] = (XidResolution.ResetGpu, string.Empty),
            [79] = (XidResolution.RestartBareMetal, "GPU has fallen off the bus"),
            [61] = (XidResolution.ReportIssue, "Internal micro-controller breakpoint"),
            [154] = (XidResolution.FollowLinked, "GPU recovery action changed"),
        };
        for (uint xid = 144; xid <= 150; xid++)
        {
            entries[xid] = (XidResolution.Workflow, "NVLink5 error");
        }

        return entries;
    }
}
