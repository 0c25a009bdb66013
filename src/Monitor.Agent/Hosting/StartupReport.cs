using Monitor.Agent.Self;

namespace Monitor.Agent.Hosting;

/// <summary>What <c>Main</c> found and decided about process limits before the host was built.</summary>
/// <param name="Descriptors">RLIMIT_NOFILE before and after the raise.</param>
/// <param name="OpenAtStart">Descriptors open once every assembly was loaded.</param>
/// <param name="Assemblies">Assemblies loaded at start.</param>
/// <param name="Connections">The connection limit and why.</param>
/// <param name="Unrecoverable">Watches for failures the runtime never retries; Main returns its exit code.</param>
internal sealed record StartupReport(
    FileDescriptorLimit.Result Descriptors,
    int OpenAtStart,
    int Assemblies,
    ConnectionBudget.Result Connections,
    UnrecoverableStateMonitor Unrecoverable);
