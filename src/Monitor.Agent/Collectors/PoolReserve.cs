namespace Monitor.Agent.Collectors;

/// <summary>
/// Keeps the thread pool whole while reads are stuck: a read that blocks in the kernel holds its pool thread until it
/// returns, and on a 2-core node the pool starts with 2 threads and adds more only slowly, so two stuck reads would
/// stall Kestrel. Each stuck collector raises the pool's minimum by one (the pool then starts a replacement at once)
/// until its read returns.
/// </summary>
internal static class PoolReserve
{
    private static readonly Lock Gate = new();
    private static int _held;
    private static int _baseWorkers = -1;
    private static int _baseIo;

    /// <summary>One more thread is held by a stuck read.</summary>
    public static void Hold() => Adjust(+1);

    /// <summary>A stuck read returned its thread.</summary>
    public static void Release() => Adjust(-1);

    /// <summary>Threads currently held by stuck reads.</summary>
    public static int Held => Volatile.Read(ref _held);

    private static void Adjust(int delta)
    {
        lock (Gate)
        {
            if (_baseWorkers < 0)
            {
                ThreadPool.GetMinThreads(out _baseWorkers, out _baseIo);
            }

            _held = Math.Max(0, _held + delta);
            ThreadPool.SetMinThreads(_baseWorkers + _held, _baseIo);
        }
    }
}
