using System.Reflection;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Loads every assembly the agent references, at start, before it accepts a connection.
/// </summary>
/// <remarks>
/// The runtime loads an assembly the first time code that needs it runs, and it remembers a failed load for the
/// life of the process. Loading needs a file descriptor (in the single-file form each loaded assembly keeps one open
/// on the executable, see docs/performance.md), so an assembly first needed on a request path (TLS, gzip, JSON,
/// bcrypt) while descriptors ran out used to fail that request path for good: the process stayed up, listening and
/// failing every request, and systemd never restarted it. Loading them all here makes the descriptor count fixed
/// after start-up, and a failure here is a start-up failure with a message.
/// </remarks>
internal static class StartupAssemblies
{
    /// <summary>Loads the entry assembly's references transitively; returns how many assemblies are loaded.</summary>
    /// <exception cref="FileLoadException">An assembly exists but could not be loaded (e.g. EMFILE).</exception>
    public static int LoadAll()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>();
        pending.Push(typeof(StartupAssemblies).Assembly);
        foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies())
        {
            pending.Push(loaded);
        }

        while (pending.TryPop(out var assembly))
        {
            if (!seen.Add(assembly.GetName().Name ?? string.Empty))
            {
                continue;
            }

            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (seen.Contains(reference.Name ?? string.Empty))
                {
                    continue;
                }

                try
                {
                    pending.Push(Assembly.Load(reference));
                }
                catch (FileNotFoundException)
                {
                    // Trimmed away: nothing the agent runs can need it.
                }
            }
        }

        return AppDomain.CurrentDomain.GetAssemblies().Length;
    }
}
