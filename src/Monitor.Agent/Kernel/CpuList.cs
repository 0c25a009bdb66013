namespace Monitor.Agent.Kernel;

/// <summary>
/// The kernel's CPU list format, <c>0-3,8,10-11</c>: sysfs cputopology (<c>online</c>, <c>isolated</c>) and cgroup
/// cpusets (<c>cpuset.cpus.effective</c>, v1 <c>cpuset.effective_cpus</c>). Shared by the cpu collector and the jobs'
/// cgroup source, so it lives outside both. Never throws; every list is bounded.
/// </summary>
internal static class CpuList
{
    /// <summary>Largest CPU number accepted, so a corrupt list cannot make us build a huge one.</summary>
    public const int MaxCpu = 1 << 16;

    /// <summary>
    /// Clears <paramref name="cpus"/> and fills it with the CPUs of <paramref name="text"/> in list order (an empty list
    /// is valid and means none). Returns null when the text parsed, else what was wrong. At most
    /// <see cref="MaxCpu"/> + 1 CPUs are listed, repeats included.
    /// </summary>
    public static string? Parse(ReadOnlySpan<char> text, List<int> cpus)
    {
        cpus.Clear();
        text = text.Trim();
        while (!text.IsEmpty)
        {
            var comma = text.IndexOf(',');
            var item = comma < 0 ? text : text[..comma];
            text = comma < 0 ? default : text[(comma + 1)..];

            var dash = item.IndexOf('-');
            var first = dash < 0 ? item : item[..dash];
            var last = dash < 0 ? item : item[(dash + 1)..];
            if (!TryParseCpu(first, out var start) || !TryParseCpu(last, out var end))
            {
                return $"'{item}' is not a CPU number or range";
            }

            if (end < start)
            {
                return $"range '{item}' ends before it starts";
            }

            // Each range is bounded by MaxCpu, but repeated or overlapping ones are not: bound the whole list too.
            if (end - start + 1 > MaxCpu + 1 - cpus.Count)
            {
                return $"more than {MaxCpu + 1} CPUs listed";
            }

            for (var cpu = start; cpu <= end; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return null;
    }

    /// <summary>
    /// How many distinct CPUs <paramref name="text"/> names (a CPU listed twice counts once), or null when it is not a
    /// CPU list. <paramref name="scratch"/> is reused to list and sort them, so a call allocates nothing once it has
    /// grown.
    /// </summary>
    public static int? Count(ReadOnlySpan<char> text, List<int> scratch)
    {
        if (Parse(text, scratch) is not null)
        {
            return null;
        }

        // The kernel writes sorted, disjoint ranges; anything else still counts each CPU once.
        scratch.Sort();
        var distinct = 0;
        for (var i = 0; i < scratch.Count; i++)
        {
            if (i == 0 || scratch[i] != scratch[i - 1])
            {
                distinct++;
            }
        }

        return distinct;
    }

    /// <summary>
    /// ASCII digits only, at most <see cref="MaxCpu"/>. Not int.TryParse: even with NumberStyles.None it accepts
    /// trailing NUL characters ("0\0" is 0), and a NUL in a cpuset file is corruption, not a CPU.
    /// </summary>
    private static bool TryParseCpu(ReadOnlySpan<char> text, out int cpu)
    {
        cpu = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < '0' or > '9' || (cpu = (cpu * 10) + (c - '0')) > MaxCpu)
            {
                return false;
            }
        }

        return true;
    }
}
