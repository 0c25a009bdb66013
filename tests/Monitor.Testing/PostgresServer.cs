using System.Diagnostics;
using Npgsql;

namespace Monitor.Testing;

/// <summary>
/// A real PostgreSQL server for the tests (Debian's <c>postgresql</c>, which test.sh installs): a fresh data
/// directory under /tmp, listening on 127.0.0.1 at a port chosen at run time, durability off for speed. One server per
/// test process (<see cref="Shared"/>), each test in its own database; the server stops when the process exits. Run
/// as root (as CI does), the server runs as the <c>postgres</c> user, since PostgreSQL refuses to run as root.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private static readonly Lazy<PostgresServer> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly Process _process;
    private readonly string _root;

    private PostgresServer(Process process, string root, int port)
    {
        _process = process;
        _root = root;
        Port = port;
    }

    /// <summary>The test process's server, started on first use.</summary>
    public static PostgresServer Shared => Instance.Value;

    /// <summary>The port it listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The connection string of <paramref name="database"/>, as the superuser.</summary>
    public string ConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, Pooling = false, Timeout = 10 }.ToString();

    /// <summary>Creates an empty database with a fresh name and returns its connection string.</summary>
    public string CreateDatabase()
    {
        var name = "t" + Guid.NewGuid().ToString("N");
        using var connection = new NpgsqlConnection(ConnectionString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name}";
        command.ExecuteNonQuery();
        return ConnectionString(name);
    }

    /// <summary>Runs <paramref name="sql"/> on <paramref name="connectionString"/>'s database.</summary>
    public static void Execute(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held: /tmp is cleaned eventually.
        }
    }

    private static PostgresServer Start()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Join(d, "bin")).Where(d => File.Exists(Path.Join(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): run test.sh, which installs Debian's postgresql, or apt-get install postgresql");
        }

        var root = Directory.CreateTempSubdirectory("monitor-pg-").FullName;
        var data = Path.Join(root, "data");
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run("chown", ["postgres:postgres", root]);
        }

        Run(asRoot ? "runuser" : Path.Join(bin, "initdb"), [.. asRoot ? new[] { "-u", "postgres", "--", Path.Join(bin, "initdb") } : [], "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        var port = ExternalTool.FreePort();
        string[] server = [Path.Join(bin, "postgres"), "-D", data, "-p", $"{port}", "-c", "listen_addresses=127.0.0.1", "-c", $"unix_socket_directories={root}", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"];
        var start = new ProcessStartInfo(asRoot ? "runuser" : server[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in asRoot ? ["-u", "postgres", "--", .. server] : server[1..])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var instance = new PostgresServer(process, root, port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => instance.Dispose();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                Execute(instance.ConnectionString(), "SELECT 1");
                return instance;
            }
            catch (NpgsqlException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
            {
                Thread.Sleep(100);
            }
        }
    }

    private static void Run(string file, string[] arguments)
    {
        var (exitCode, stdout, stderr) = ExternalTool.RunAsync(file, arguments, timeout: TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {stderr}{stdout}");
        }
    }
}
