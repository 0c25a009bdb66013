using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class BackgroundSamplerTests
{
    [Fact]
    public void CollectIfNoneSince_NoFullCollectionSinceTheLastCheck_CollectsAndRemembersTheNewCount()
    {
        var count = 7;
        var last = 7;

        Assert.True(BackgroundSampler.CollectIfNoneSince(ref last, () => count, () => count++));
        Assert.Equal(8, count);
        Assert.Equal(8, last);
    }

    [Fact]
    public void CollectIfNoneSince_AFullCollectionRanSince_DoesNotCollectAgain()
    {
        var count = 9;
        var last = 7;

        Assert.False(BackgroundSampler.CollectIfNoneSince(ref last, () => count, () => count++));
        Assert.Equal(9, count);
        Assert.Equal(9, last);
    }

    [Fact]
    public void CollectIfNoneSince_TheRealGc_RunsAFullCollection()
    {
        var last = GC.CollectionCount(2);
        var before = last;

        _ = BackgroundSampler.CollectIfNoneSince(ref last);

        // Collected, or another test's collection ran first: either way a full collection happened since.
        Assert.True(GC.CollectionCount(2) > before);
    }
}
