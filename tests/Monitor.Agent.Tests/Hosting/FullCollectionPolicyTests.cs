using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class FullCollectionPolicyTests
{
    [Fact]
    public void Tick_NoFullCollectionForEveryTicks_AsksForOneThenWaitsForTheCountToMove()
    {
        var policy = new FullCollectionPolicy(everyTicks: 3);

        Assert.False(policy.Tick(5));
        Assert.False(policy.Tick(5));
        Assert.False(policy.Tick(5));
        Assert.True(policy.Tick(5));

        // The collection ran: the count moved, the window starts again.
        Assert.False(policy.Tick(6));
        Assert.False(policy.Tick(6));
    }

    [Fact]
    public void Tick_TheGcRanAFullCollectionItself_TheWindowStartsAgain()
    {
        var policy = new FullCollectionPolicy(everyTicks: 2);

        Assert.False(policy.Tick(1));
        Assert.False(policy.Tick(1));
        Assert.False(policy.Tick(2));
        Assert.False(policy.Tick(2));
        Assert.True(policy.Tick(2));
    }
}
