using Monitor.Agent.Self;

namespace Monitor.Agent.Tests.Self;

public sealed class OpenFileDescriptorsTests
{
    [Fact]
    public void Count_RisesByTheDescriptorsOpened_AndFallsWhenTheyClose()
    {
        // Other tests run beside this one and open files too, so the count is compared with its own change, and
        // the listing of /proc/self/fd (the ground truth) is taken next to it.
        const int opened = 200;
        var before = OpenFileDescriptors.Count();
        var handles = Enumerable.Range(0, opened).Select(_ => File.OpenHandle("/proc/self/limits")).ToList();
        var during = OpenFileDescriptors.Count();
        var listed = Directory.GetFileSystemEntries("/proc/self/fd").Length - 1; // less the listing's own descriptor
        handles.ForEach(h => h.Dispose());
        var after = OpenFileDescriptors.Count();

        Assert.InRange(during - before, opened - 20, opened + 20);
        Assert.InRange(during, listed - 20, listed + 20);
        Assert.InRange(before - after, -20, 20);
    }
}
