namespace Monitor.Agent.Hosting;

/// <summary>
/// How many HTTP connections the listener may hold: what <c>--web.max-connections</c> asks for, within what the file
/// descriptor limit leaves once start-up is done and a reserve is set aside.
/// </summary>
internal static class ConnectionBudget
{
    /// <summary>
    /// Descriptors kept free for everything but connections: collectors' reads, the procfs files kept open
    /// (<see cref="Collectors.KernelFile.KeptNames"/>, 25 at most), the spool, NVML, the shipper.
    /// </summary>
    public const int Reserve = 96;

    /// <summary>The automatic limit's ceiling: far more than any set of scrapers needs, and a bounded RSS.</summary>
    public const int DefaultMax = 512;

    /// <summary>Below this many connections the agent refuses to start: it could not serve its scrapers.</summary>
    public const int Minimum = 4;

    /// <summary>
    /// Descriptors that starting the listener and its warm-up add to those open before (measured: 70–80 in the
    /// single-file form, most of them the two descriptors the runtime keeps per assembly loaded, the TLS code included).
    /// </summary>
    public const int StartupGrowth = 90;

    /// <summary>The outcome: a limit, and a warning (limit lowered) or an error (cannot run).</summary>
    internal readonly record struct Result(int Limit, string? Warning, string? Error);

    /// <param name="requested"><c>--web.max-connections</c> (0: automatic).</param>
    /// <param name="softLimit">RLIMIT_NOFILE's soft limit in force (0: unknown).</param>
    /// <param name="openNow">Descriptors open now.</param>
    /// <param name="growth">Descriptors start-up will still add (<see cref="StartupGrowth"/> before the listener starts, 0 after).</param>
    public static Result Resolve(int requested, ulong softLimit, int openNow, int growth = 0)
    {
        if (softLimit == 0 || openNow < 0)
        {
            return new Result(requested > 0 ? requested : DefaultMax, null, null);
        }

        openNow += growth;
        var room = (long)Math.Min(softLimit, int.MaxValue) - openNow - Reserve;
        if (room < Minimum)
        {
            return new Result(0, null,
                $"the file descriptor limit ({softLimit}) is too low: {openNow} descriptors are open after start-up{(growth > 0 ? $" (expected)" : string.Empty)}, {Reserve} are kept for collectors and the spool, "
                + $"which leaves {Math.Max(room, 0)} for HTTP connections (at least {Minimum} needed); raise it (LimitNOFILE= in the systemd unit, ulimit -n) to at least {openNow + Reserve + Minimum + 64}");
        }

        if (requested == 0)
        {
            return new Result((int)Math.Min(room, DefaultMax), null, null);
        }

        return requested <= room
            ? new Result(requested, null, null)
            : new Result((int)room, $"--web.max-connections={requested} lowered to {room}: the file descriptor limit is {softLimit}, {openNow} are open after start-up and {Reserve} are kept for collectors and the spool", null);
    }
}
