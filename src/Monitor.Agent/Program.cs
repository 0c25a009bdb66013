namespace Monitor.Agent;

/// <summary>Entry point (host wiring lands in the next commit).</summary>
internal static class Program
{
    public static int Main() => 0;
}
