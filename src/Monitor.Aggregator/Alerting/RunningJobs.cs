using Monitor.Contracts;

namespace Monitor.Aggregator.Alerting;

/// <summary>
/// What the job alert rules look at, kept in memory so that evaluating them costs no database read: every running
/// record this replica stored (one job on one node), with a short history of each GPU's counters, and when each target
/// last answered. The poller feeds it every answer it stored (<see cref="Apply"/>) and every poll's outcome
/// (<see cref="Polled"/>); at start it is seeded from the store (<see cref="Seed"/>), its histories empty.
/// </summary>
/// <param name="sampleEvery">How far apart a GPU's history samples are at least.</param>
/// <param name="keep">How far back the histories go (the rules' longest window, plus a sample).</param>
/// <param name="memoryThreshold">The fraction of a GPU's memory above which its time is counted (the memory rule's).</param>
internal sealed class RunningJobs(TimeSpan sampleEvery, TimeSpan keep, double memoryThreshold = 0.95)
{
    private readonly Dictionary<(string Job, long Start, string Node), NodeRun> _runs = [];
    private readonly Dictionary<string, List<NodeRun>> _byJob = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _answered = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly int _capacity = Math.Max(2, (int)Math.Ceiling(keep / sampleEvery) + 2);

    /// <summary>How many running records it holds.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _runs.Count;
            }
        }
    }

    /// <summary>Takes one stored answer of <paramref name="target"/>: running records are kept (and sampled), ended ones dropped.</summary>
    public void Apply(string target, JobsFeedPage page, DateTimeOffset now)
    {
        lock (_gate)
        {
            _answered[target] = now;
            foreach (var record in page.Jobs)
            {
                var key = (record.JobId, record.Start.ToUnixTimeMilliseconds(), page.Node);
                if (record.End is not null || record.State != "running")
                {
                    Remove(key);
                    continue;
                }

                if (!_runs.TryGetValue(key, out var run))
                {
                    run = Add(key, target, page.Node);
                }
                else if (run.Record.Revision > record.Revision && !page.Reset)
                {
                    continue;
                }

                run.Update(record, now, sampleEvery, _capacity, memoryThreshold);
            }
        }
    }

    /// <summary>Records that <paramref name="target"/> answered a poll at <paramref name="now"/>.</summary>
    public void Polled(string target, DateTimeOffset now)
    {
        lock (_gate)
        {
            _answered[target] = now;
        }
    }

    /// <summary>
    /// Starts from the store's running records and each target's last answer (after a restart): the records are
    /// current, the histories empty, so windowed rules wait for a window's worth of samples.
    /// </summary>
    public void Seed(IEnumerable<(string Target, string Node, NodeJobRecord Record)> running, IEnumerable<(string Target, DateTimeOffset Answered)> targets, DateTimeOffset now)
    {
        lock (_gate)
        {
            _runs.Clear();
            _byJob.Clear();
            foreach (var (target, answered) in targets)
            {
                _answered[target] = answered;
            }

            foreach (var (target, node, record) in running)
            {
                var key = (record.JobId, record.Start.ToUnixTimeMilliseconds(), node);
                var run = _runs.TryGetValue(key, out var known) ? known : Add(key, target, node);
                run.Update(record, now, sampleEvery, _capacity, memoryThreshold);
            }
        }
    }

    /// <summary>Drops the records of targets that have not answered since <paramref name="before"/> (the store finalized them incomplete).</summary>
    public void Forget(DateTimeOffset before)
    {
        lock (_gate)
        {
            foreach (var key in _runs.Where(r => _answered.GetValueOrDefault(r.Value.Target, DateTimeOffset.MinValue) < before).Select(r => r.Key).ToList())
            {
                Remove(key);
            }
        }
    }

    /// <summary>Runs <paramref name="read"/> over every running job's records (by job id) and each target's last answer, under the view's lock.</summary>
    public T Read<T>(Func<IReadOnlyDictionary<string, List<NodeRun>>, IReadOnlyDictionary<string, DateTimeOffset>, T> read)
    {
        lock (_gate)
        {
            return read(_byJob, _answered);
        }
    }

    private NodeRun Add((string Job, long Start, string Node) key, string target, string node)
    {
        var run = new NodeRun(target, node);
        _runs[key] = run;
        if (!_byJob.TryGetValue(key.Job, out var runs))
        {
            runs = new List<NodeRun>(1);
            _byJob[key.Job] = runs;
        }

        runs.Add(run);
        return run;
    }

    private void Remove((string Job, long Start, string Node) key)
    {
        if (_runs.Remove(key, out var run) && _byJob.TryGetValue(key.Job, out var runs))
        {
            runs.Remove(run);
            if (runs.Count == 0)
            {
                _byJob.Remove(key.Job);
            }
        }
    }

    /// <summary>One job on one node: its latest record, and each GPU's history.</summary>
    internal sealed class NodeRun(string target, string node)
    {
        public string Target { get; } = target;

        public string Node { get; } = node;

        public NodeJobRecord Record { get; private set; } = null!;

        /// <summary>When the record last changed.</summary>
        public DateTimeOffset Updated { get; private set; }

        /// <summary>Each GPU's samples, by UUID.</summary>
        public Dictionary<string, GpuHistory> Gpus { get; } = new(StringComparer.Ordinal);

        public void Update(NodeJobRecord record, DateTimeOffset now, TimeSpan sampleEvery, int capacity, double memoryThreshold)
        {
            Record = record;
            Updated = now;
            foreach (var gpu in record.Gpus)
            {
                if (!Gpus.TryGetValue(gpu.Uuid, out var history))
                {
                    history = new GpuHistory(capacity, memoryThreshold);
                    Gpus[gpu.Uuid] = history;
                }

                history.Sample(now, gpu, sampleEvery);
            }
        }
    }

    /// <summary>
    /// A GPU's counters at past polls (at least <c>sampleEvery</c> apart, the oldest dropped), and since when its
    /// memory has been over the memory rule's threshold.
    /// </summary>
    internal sealed class GpuHistory(int capacity, double memoryThreshold)
    {
        private readonly (long At, double Allocated, double Busy)[] _samples = new (long, double, double)[capacity];
        private int _next;
        private int _count;

        /// <summary>The GPU's memory held over its total at the last sample (NaN unknown).</summary>
        public double MemoryFraction { get; private set; } = double.NaN;

        /// <summary>Since when the memory fraction has been above the memory rule's threshold; null when it is not.</summary>
        public DateTimeOffset? MemoryHighSince { get; private set; }

        public void Sample(DateTimeOffset now, NodeJobGpu gpu, TimeSpan every)
        {
            var at = now.ToUnixTimeMilliseconds();
            var newest = _count > 0 ? _samples[(_next - 1 + _samples.Length) % _samples.Length].At : long.MinValue;
            if (_count == 0 || at - newest >= every.TotalMilliseconds)
            {
                _samples[_next] = (at, gpu.AllocatedSeconds, gpu.BusySeconds);
                _next = (_next + 1) % _samples.Length;
                _count = Math.Min(_count + 1, _samples.Length);
            }

            MemoryFraction = gpu.MemoryUsedBytes is { } used && gpu.MemoryTotalBytes is { } total && total > 0 && gpu.Held ? used / total : double.NaN;
            if (double.IsNaN(MemoryFraction) || MemoryFraction <= memoryThreshold)
            {
                MemoryHighSince = null;
            }
            else
            {
                MemoryHighSince ??= now;
            }
        }

        /// <summary>
        /// The counters of the newest sample at least <paramref name="window"/> before <paramref name="now"/>; null when
        /// the history does not reach that far back (the record is younger, or the aggregator restarted since).
        /// </summary>
        public (double Allocated, double Busy)? Before(DateTimeOffset now, TimeSpan window)
        {
            var limit = (now - window).ToUnixTimeMilliseconds();
            for (var k = 1; k <= _count; k++)
            {
                var sample = _samples[(_next - k + _samples.Length) % _samples.Length];
                if (sample.At <= limit)
                {
                    return (sample.Allocated, sample.Busy);
                }
            }

            return null;
        }
    }
}
