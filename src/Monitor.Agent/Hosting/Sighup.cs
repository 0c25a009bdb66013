using System.Runtime.InteropServices;

namespace Monitor.Agent.Hosting;

/// <summary>
/// SIGHUP means "reload" to operators of Prometheus-family daemons, and its default action ends the process (exit
/// 129, no drain, queued log events lost). Registered first thing in Main, so a SIGHUP during start-up is ignored
/// rather than fatal; once the host runs, it reloads <c>--web.config.file</c>.
/// </summary>
internal static class Sighup
{
    private static Action? s_handler;

    /// <summary>What a SIGHUP does now; null ignores it.</summary>
    public static Action? Handler
    {
        get => Volatile.Read(ref s_handler);
        set => Volatile.Write(ref s_handler, value);
    }

    /// <summary>Takes over SIGHUP until the registration is disposed.</summary>
    public static PosixSignalRegistration Register() =>
        PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            if (Handler is { } handler)
            {
                // Off the signal thread: a reload reads files and builds certificates.
                _ = Task.Run(handler);
            }
        });
}
