namespace Monitor.Testing;

/// <summary>Waits for something a server does in its own time (a poll, a refresh), with a deadline.</summary>
public static class Eventually
{
    /// <summary>Checks <paramref name="condition"/> every 200 ms until it holds; fails the test with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Xunit.Assert.True(DateTime.UtcNow < deadline, $"not within {timeout.TotalSeconds} s: {what}");
            await Task.Delay(200);
        }
    }
}
