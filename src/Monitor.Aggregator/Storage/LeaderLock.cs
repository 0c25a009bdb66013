using Npgsql;

namespace Monitor.Aggregator.Storage;

/// <summary>
/// <c>--ha.standby</c>: replicas that share one PostgreSQL store elect one poller with a session advisory lock. The
/// replica whose connection holds the lock polls; the others serve the API and try again every cycle. When the
/// leader dies or loses its connection, PostgreSQL releases the lock and the next replica to try takes over within
/// one poll interval. The lock is the database's, so there is no split brain: a replica that cannot reach the
/// database cannot store either.
/// </summary>
internal sealed class LeaderLock(string connectionString, string cluster) : IDisposable
{
    private readonly Lock _gate = new();
    private NpgsqlConnection? _connection;

    /// <summary>The lock's key: one per cluster name, so several clusters can share one database.</summary>
    public long Key { get; } = 0x6d6f6e0000000000 | (uint)StableHash(cluster);

    /// <summary>Whether this replica held the lock at the last <see cref="TryLead"/>.</summary>
    public bool IsLeader { get; private set; }

    /// <summary>
    /// Takes the lock if it is free, or checks that this replica's session still holds it. Returns whether this
    /// replica leads now; a database error makes it a standby until the next try.
    /// </summary>
    public bool TryLead()
    {
        lock (_gate)
        {
            try
            {
                if (_connection is null)
                {
                    _connection = new NpgsqlConnection(connectionString);
                    _connection.Open();
                }

                using var command = _connection.CreateCommand();
                if (IsLeader)
                {
                    // The session holds the lock for as long as it lives: proving the connection alive is enough.
                    command.CommandText = "SELECT 1";
                    command.ExecuteScalar();
                    return true;
                }

                command.CommandText = "SELECT pg_try_advisory_lock(@key)";
                command.Parameters.AddWithValue("key", Key);
                IsLeader = command.ExecuteScalar() is true;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                Drop();
            }

            return IsLeader;
        }
    }

    /// <summary>Gives the lock up (closing the session releases it).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            Drop();
        }
    }

    private void Drop()
    {
        _connection?.Dispose();
        _connection = null;
        IsLeader = false;
    }

    private static int StableHash(string text)
    {
        var hash = unchecked((int)2166136261);
        foreach (var c in text)
        {
            hash = unchecked((hash ^ c) * 16777619);
        }

        return hash;
    }
}
