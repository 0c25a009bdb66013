using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class UnrecoverableStateMonitorTests
{
    public static TheoryData<Exception, bool> Cases => new()
    {
        { new TypeInitializationException("System.Net.Sockets.SocketAsyncEngine", new IOException("Too many open files")), true },
        { new InvalidOperationException("wrapped", new FileLoadException("could not load")), true },
        { new FileNotFoundException("Could not load file or assembly", "Microsoft.AspNetCore.Http.Features, Version=10.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60"), true },
        { new AggregateException(new IOException("x"), new TypeInitializationException("T", null)), true },
        { new FileNotFoundException("missing", "/proc/pressure/cpu"), false },
        { new IOException("Too many open files"), false },
        { new InvalidOperationException("bug"), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsUnrecoverable_Exception_OnlyCachedLoadFailures(Exception exception, bool expected) =>
        Assert.Equal(expected, UnrecoverableStateMonitor.IsUnrecoverable(exception));

    [Fact]
    public void Log_KestrelErrorWithFailedAssemblyLoad_StopsTheHostWithExitCode70()
    {
        using var monitor = new UnrecoverableStateMonitor();
        var lifetime = new Lifetime();
        monitor.Attach(lifetime, NullLogger.Instance);
        var kestrel = monitor.CreateLogger("Microsoft.AspNetCore.Server.Kestrel");

        kestrel.Log(LogLevel.Warning, default, "ordinary", new IOException("Too many open files"), (m, _) => m);
        Assert.Null(monitor.ExitCode);
        kestrel.Log(LogLevel.Error, default, "Unhandled exception while processing", new FileLoadException("Could not load file or assembly 'System.Net.Security'"), (m, _) => m);

        Assert.Equal(UnrecoverableStateMonitor.ExitCodeUnrecoverable, monitor.ExitCode);
        Assert.Equal(1, lifetime.Stops);
    }

    [Fact]
    public void Log_AcceptLoopEnded_StopsTheHost()
    {
        using var monitor = new UnrecoverableStateMonitor();
        var lifetime = new Lifetime();
        monitor.Attach(lifetime, NullLogger.Instance);

        monitor.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").Log(LogLevel.Critical, default, "The connection listener failed to accept any new connections.", null, (m, _) => m);

        Assert.Equal(70, monitor.ExitCode);
        Assert.Equal(1, lifetime.Stops);
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public int Stops { get; private set; }

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => Stops++;
    }
}
