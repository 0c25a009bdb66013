using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Monitor.Agent.Hosting;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Hosting;

public sealed class ConnectionLimiterTests
{
    [Fact]
    public void Admit_AtLimit_DisplacesTheOldestConnectionThatNeverCompletedARequest()
    {
        var time = TestClock.Create();
        var limiter = new ConnectionLimiter(3, null, time, NullLogger.Instance);
        var first = new FakeConnection();
        var second = new FakeConnection();
        var third = new FakeConnection();
        Assert.NotNull(limiter.Admit(first));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(limiter.Admit(second));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(limiter.Admit(third));

        // The oldest served one stays: an authorized request makes a connection the last to go.
        using (var scope = ConnectionLimiter.BeginRequest(first.Items))
        {
            scope.MarkServed();
        }

        var fourth = new FakeConnection();
        Assert.NotNull(limiter.Admit(fourth));

        Assert.False(first.Aborted);
        Assert.True(second.Aborted);
        Assert.False(third.Aborted);
        Assert.False(fourth.Aborted);
    }

    [Fact]
    public void Admit_AtLimitWithOnlyServedIdleConnections_DisplacesTheOneIdleLongest()
    {
        var time = TestClock.Create();
        var limiter = new ConnectionLimiter(2, null, time, NullLogger.Instance);
        var a = new FakeConnection();
        var b = new FakeConnection();
        limiter.Admit(a);
        limiter.Admit(b);
        using (var scope = ConnectionLimiter.BeginRequest(b.Items))
        {
            scope.MarkServed();
        }

        time.Advance(TimeSpan.FromSeconds(5));
        using (var scope = ConnectionLimiter.BeginRequest(a.Items))
        {
            scope.MarkServed();
        }

        limiter.Admit(new FakeConnection());

        Assert.True(b.Aborted);
        Assert.False(a.Aborted);
    }

    [Fact]
    public async Task Admit_EveryConnectionServingARequest_RefusesTheNewOneAndWaitsForAFreeSlot()
    {
        var limiter = new ConnectionLimiter(2, null, TestClock.Create(), NullLogger.Instance);
        var a = new FakeConnection();
        var b = new FakeConnection();
        var admittedA = limiter.Admit(a)!;
        limiter.Admit(b);
        var busyA = ConnectionLimiter.BeginRequest(a.Items);
        using var busyB = ConnectionLimiter.BeginRequest(b.Items);

        Assert.Null(limiter.Admit(new FakeConnection()));
        Assert.False(a.Aborted);
        Assert.False(b.Aborted);

        var room = limiter.WaitForRoomAsync(CancellationToken.None).AsTask();
        Assert.False(room.IsCompleted);

        // The request on a ends: a is idle, so a new connection could displace it.
        busyA.Dispose();
        await room.WaitAsync(TimeSpan.FromSeconds(30));

        await admittedA.DisposeAsync();
        Assert.Equal(1, limiter.Open);
    }

    [Fact]
    public async Task DisposeAsync_DisplacedConnection_GivesItsSlotBackOnce()
    {
        var limiter = new ConnectionLimiter(1, null, TestClock.Create(), NullLogger.Instance);
        var old = new FakeConnection();
        var admittedOld = limiter.Admit(old)!;
        var admittedNew = limiter.Admit(new FakeConnection())!;

        Assert.True(old.Aborted);
        Assert.Equal(2, limiter.Open);
        await admittedOld.DisposeAsync();
        await admittedOld.DisposeAsync();
        Assert.Equal(1, limiter.Open);
        await admittedNew.DisposeAsync();
        Assert.Equal(0, limiter.Open);
    }

    [Fact]
    public void Admit_DisplacementSlackUsedUp_RefusesUntilDisplacedConnectionsClose()
    {
        var limiter = new ConnectionLimiter(1, null, TestClock.Create(), NullLogger.Instance);
        for (var i = 0; i < ConnectionLimiter.DisplacementSlack + 1; i++)
        {
            Assert.NotNull(limiter.Admit(new FakeConnection()));
        }

        // Displaced connections that have not closed yet still hold descriptors: no more than the slack.
        Assert.Null(limiter.Admit(new FakeConnection()));
        Assert.Equal(ConnectionLimiter.DisplacementSlack + 1, limiter.Open);
    }

    private sealed class FakeConnection : ConnectionContext
    {
        public bool Aborted { get; private set; }

        public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");

        public override IFeatureCollection Features { get; } = new FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        public override IDuplexPipe Transport { get; set; } = null!;

        public override void Abort(ConnectionAbortedException abortReason) => Aborted = true;
    }
}
