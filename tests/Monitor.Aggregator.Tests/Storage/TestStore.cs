using Monitor.Aggregator.Storage;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Storage;

/// <summary>
/// One store for a test, on SQLite (a file in the test's tree) or on the real PostgreSQL (a fresh database), so every
/// storage test runs on both. <see cref="Open"/> opens it again as a restarted aggregator would.
/// </summary>
internal sealed class TestStore(string kind, string location)
{
    /// <summary>The kinds every storage test runs on.</summary>
    public static TheoryData<string> Kinds => ["sqlite", "postgres"];

    /// <summary>Whether this is PostgreSQL.</summary>
    public bool IsPostgres => kind == "postgres";

    /// <summary>The SQLite file or the PostgreSQL connection string.</summary>
    public string Location => location;

    /// <summary>A new, empty store of <paramref name="kind"/>.</summary>
    public static TestStore Create(string kind, TempTree tree)
    {
        Directory.CreateDirectory(tree.Root);
        return kind switch
        {
            "sqlite" => new TestStore(kind, tree.Path($"aggregator-{Guid.NewGuid():N}.db")),
            "postgres" => new TestStore(kind, PostgresServer.Shared.CreateDatabase()),
            _ => throw new ArgumentException($"no store kind '{kind}'", nameof(kind)),
        };
    }

    /// <summary>Opens the store (migrating it), as the aggregator does at start.</summary>
    public JobStore Open(string cluster = "default") => IsPostgres ? JobStore.OpenPostgres(location, cluster) : JobStore.OpenSqlite(location, cluster);

    /// <summary>Runs <paramref name="sql"/> on the store's database directly.</summary>
    public void Execute(string sql)
    {
        if (IsPostgres)
        {
            PostgresServer.Execute(location, sql);
            return;
        }

        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={location};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
