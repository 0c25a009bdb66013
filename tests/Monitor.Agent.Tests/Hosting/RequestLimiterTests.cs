using Microsoft.AspNetCore.Http;
using Monitor.Agent.Hosting;
using Monitor.Agent.Tests.Support;
using Monitor.Core.Exposition;
using Monitor.Testing;

namespace Monitor.Agent.Tests.Hosting;

public sealed class RequestLimiterTests
{
    [Fact]
    public async Task TryEnter_MoreThanTheLimit_RefusedWith503CountedAndLoggedAtMostOncePer10s()
    {
        var registry = new MetricRegistry();
        var time = TestClock.Create();
        var log = new CollectingLoggerFactory();
        var limiter = new RequestLimiter(2, registry, log.CreateLogger("limiter"), time);

        Assert.True(limiter.TryEnter());
        Assert.True(limiter.TryEnter());
        for (var i = 0; i < 5; i++)
        {
            Assert.False(limiter.TryEnter());
            var context = new DefaultHttpContext();
            context.Request.Path = "/api/v1/jobs";
            await limiter.RejectAsync(context);
            Assert.Equal(StatusCodes.Status503ServiceUnavailable, context.Response.StatusCode);
        }

        limiter.Exit();
        Assert.True(limiter.TryEnter());
        Assert.Equal(5, Rejected(registry));
        Assert.Single(log.Entries);
        Assert.Contains("/api/v1/jobs", log.Entries[0].Message, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromSeconds(11));
        await limiter.RejectAsync(new DefaultHttpContext());
        Assert.Equal(2, log.Entries.Count);
        Assert.StartsWith("5 request(s) rejected", log.Entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryEnter_LimitZero_NeverRefuses()
    {
        var limiter = new RequestLimiter(0, new MetricRegistry(), new CollectingLoggerFactory().CreateLogger("limiter"), TestClock.Create());

        for (var i = 0; i < 1000; i++)
        {
            Assert.True(limiter.TryEnter());
        }
    }

    private static double Rejected(MetricRegistry registry) =>
        registry.Families.Single(f => f.Name == "monitor_agent_scrapes_rejected_total").Series.Single().Value;
}
