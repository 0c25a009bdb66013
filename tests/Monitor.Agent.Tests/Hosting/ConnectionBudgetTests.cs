using Monitor.Agent.Hosting;

namespace Monitor.Agent.Tests.Hosting;

public sealed class ConnectionBudgetTests
{
    [Theory]
    [InlineData(0, 1_048_576UL, 150, ConnectionBudget.DefaultMax)]
    [InlineData(0, 256UL, 143, 256 - 143 - ConnectionBudget.Reserve)]
    [InlineData(100, 1024UL, 150, 100)]
    [InlineData(0, 0UL, 150, ConnectionBudget.DefaultMax)]
    [InlineData(7, 0UL, 150, 7)]
    public void Resolve_Cases_LeaveTheReserveFree(int requested, ulong soft, int open, int expected)
    {
        var result = ConnectionBudget.Resolve(requested, soft, open);

        Assert.Equal(expected, result.Limit);
        Assert.Null(result.Error);
        Assert.Null(result.Warning);
    }

    [Fact]
    public void Resolve_RequestedMoreThanTheLimitLeaves_LowersItWithAWarning()
    {
        var result = ConnectionBudget.Resolve(1000, 1024, 200);

        Assert.Equal(1024 - 200 - ConnectionBudget.Reserve, result.Limit);
        Assert.Contains("--web.max-connections=1000 lowered to 728", result.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_LimitTooLow_IsAnErrorNamingWhatToRaise()
    {
        var result = ConnectionBudget.Resolve(0, 128, 60, ConnectionBudget.StartupGrowth);

        Assert.NotNull(result.Error);
        Assert.Contains("file descriptor limit (128) is too low", result.Error, StringComparison.Ordinal);
        Assert.Contains("LimitNOFILE=", result.Error, StringComparison.Ordinal);
        var needed = 60 + ConnectionBudget.StartupGrowth + ConnectionBudget.Reserve + ConnectionBudget.Minimum;
        Assert.Null(ConnectionBudget.Resolve(0, (ulong)needed, 60, ConnectionBudget.StartupGrowth).Error);
        Assert.NotNull(ConnectionBudget.Resolve(0, (ulong)needed - 1, 60, ConnectionBudget.StartupGrowth).Error);
    }
}
