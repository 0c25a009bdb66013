namespace Monitor.Agent.Hosting;

/// <summary>
/// A fixed number of dedicated threads that run bcrypt verifications, and no queue: a verification either starts on
/// an idle worker at once or is refused. bcrypt burns tens of milliseconds of CPU by design; on its own threads it
/// never occupies the thread pool that serves scrapes, so a request with cached credentials never waits behind it.
/// </summary>
internal sealed class BcryptWorkers : IDisposable
{
    private readonly Worker[] _workers;

    /// <param name="count">How many verifications may run at once (at least 1).</param>
    public BcryptWorkers(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _workers = new Worker[count];
        for (var i = 0; i < count; i++)
        {
            _workers[i] = new Worker(i);
        }
    }

    /// <summary>How many verifications may run at once.</summary>
    public int Count => _workers.Length;

    /// <summary>The default: one per core but one, at least one, so bcrypt never takes every core.</summary>
    public static int DefaultCount => Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>Starts a verification on an idle worker; false when all are busy (nothing started).</summary>
    public bool TryVerify(string password, string hash, out Task<bool> result)
    {
        foreach (var worker in _workers)
        {
            if (worker.TryStart(password, hash, out result))
            {
                return true;
            }
        }

        result = Task.FromResult(false);
        return false;
    }

    public void Dispose()
    {
        foreach (var worker in _workers)
        {
            worker.Dispose();
        }
    }

    private sealed class Worker(int index) : IDisposable
    {
        private readonly SemaphoreSlim _go = new(0, 1);
        private readonly Lock _startLock = new();
        private int _busy;
        private bool _disposed;
        private Thread? _thread;
        private string _password = string.Empty;
        private string _hash = string.Empty;
        private TaskCompletionSource<bool>? _result;

        public bool TryStart(string password, string hash, out Task<bool> result)
        {
            if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            {
                result = Task.FromResult(false);
                return false;
            }

            var completion = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            _password = password;
            _hash = hash;
            _result = completion;
            lock (_startLock)
            {
                if (_disposed)
                {
                    completion.SetResult(false);
                    result = completion.Task;
                    return true;
                }

                // Started at first use: an agent without basic auth never creates these threads.
                _thread ??= StartThread();
            }

            _go.Release();
            result = completion.Task;
            return true;
        }

        public void Dispose()
        {
            lock (_startLock)
            {
                _disposed = true;
            }

            if (_thread is not null && Volatile.Read(ref _busy) == 0 && Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
            {
                _go.Release();
            }
        }

        private Thread StartThread()
        {
            var thread = new Thread(Run) { IsBackground = true, Name = $"bcrypt {index}" };
            thread.Start();
            return thread;
        }

        private void Run()
        {
            while (true)
            {
                _go.Wait();
                var completion = _result;
                _result = null;
                if (completion is null)
                {
                    return; // Disposed while idle.
                }

                bool valid;
                try
                {
                    valid = BCrypt.Net.BCrypt.Verify(_password, _hash);
                }
                catch (Exception)
                {
                    // A malformed hash cannot verify anything; the thread must outlive any input.
                    valid = false;
                }

                _password = string.Empty;
                Volatile.Write(ref _busy, 0);
                completion.SetResult(valid);
            }
        }
    }
}
