using Monitor.Agent.Self;

namespace Monitor.Agent.Hosting;

/// <summary>What <c>Main</c> found and decided about process limits before the host was built.</summary>
/// <param name="Descriptors">RLIMIT_NOFILE before and after the raise.</param>
/// <param name="OpenAtStart">Descriptors open before the host was built (-1: unknown).</param>
/// <param name="Connections">The first connection limit, from <paramref name="OpenAtStart"/>; refined after the warm-up.</param>
/// <param name="Unrecoverable">Watches for failures the runtime never retries; Main returns its exit code.</param>
internal sealed record StartupReport(
    FileDescriptorLimit.Result Descriptors,
    int OpenAtStart,
    ConnectionBudget.Result Connections,
    UnrecoverableStateMonitor Unrecoverable);
