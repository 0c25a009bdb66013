// Load generators for bench/listener.sh. Usage:
//   scrape     URL SECONDS INTERVAL_MS [USER PASSWORD]   Prometheus-style scrapes on one keep-alive connection; prints
//                                                        count, failures, p50/p99/max latency in ms
//   slowloris  URL CONNECTIONS SECONDS                   holds CONNECTIONS connections that dribble one header line
//                                                        every 5 s and never end their headers; reconnects closed ones
//   authflood  URL CONNECTIONS SECONDS                   CONNECTIONS keep-alive connections sending wrong passwords
//                                                        back to back; prints answers by status
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

var mode = args[0];
var url = new Uri(args[1]);
switch (mode)
{
    case "scrape":
        await ScrapeAsync(url, TimeSpan.FromSeconds(int.Parse(args[2])), TimeSpan.FromMilliseconds(int.Parse(args[3])), args.Length > 5 ? (args[4], args[5]) : null);
        break;
    case "slowloris":
        await SlowlorisAsync(url, int.Parse(args[2]), TimeSpan.FromSeconds(int.Parse(args[3])));
        break;
    case "authflood":
        await AuthFloodAsync(url, int.Parse(args[2]), TimeSpan.FromSeconds(int.Parse(args[3])));
        break;
    default:
        Console.Error.WriteLine($"unknown mode {mode}");
        return 2;
}

return 0;

static HttpClient Client(int connections) => new(new SocketsHttpHandler
{
    MaxConnectionsPerServer = connections,
    AutomaticDecompression = DecompressionMethods.GZip,
    SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
})
{ Timeout = TimeSpan.FromSeconds(10) };

static async Task ScrapeAsync(Uri url, TimeSpan length, TimeSpan interval, (string User, string Password)? credentials)
{
    using var client = Client(1);
    var latencies = new List<double>();
    var failures = new Dictionary<string, int>();

    // One untimed request first: the client's own first-request costs (JIT, TLS set-up) are not the agent's latency.
    using (var warm = new HttpRequestMessage(HttpMethod.Get, url))
    {
        if (credentials is { } w)
        {
            warm.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{w.User}:{w.Password}")));
        }

        try
        {
            using var _ = await client.SendAsync(warm);
        }
        catch (HttpRequestException)
        {
            // Counted by the measured requests if it persists.
        }
    }

    var end = DateTime.UtcNow + length;
    while (DateTime.UtcNow < end)
    {
        var next = DateTime.UtcNow + interval;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        request.Headers.TryAddWithoutValidation("X-Prometheus-Scrape-Timeout-Seconds", "10");
        if (credentials is { } c)
        {
            request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{c.User}:{c.Password}")));
        }

        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await client.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            if (response.IsSuccessStatusCode)
            {
                latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
            else
            {
                Count(failures, ((int)response.StatusCode).ToString());
            }
        }
        catch (Exception ex)
        {
            Count(failures, ex.GetType().Name);
        }

        var wait = next - DateTime.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    latencies.Sort();
    double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
    Console.WriteLine($"scrapes ok={latencies.Count} failed={failures.Values.Sum()} {string.Join(' ', failures.Select(f => $"{f.Key}={f.Value}"))} p50_ms={P(0.5):F1} p99_ms={P(0.99):F1} max_ms={P(1):F1}");
}

static async Task SlowlorisAsync(Uri url, int connections, TimeSpan length)
{
    var end = DateTime.UtcNow + length;
    long opened = 0, closedByServer = 0, errors = 0;
    var open = 0;
    var workers = Enumerable.Range(0, connections).Select(async i =>
    {
        await Task.Delay(i % 1000); // spread the connects over a second per thousand
        while (DateTime.UtcNow < end)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(url.Host, url.Port);
                Interlocked.Increment(ref opened);
                Interlocked.Increment(ref open);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Host}\r\n"));
                var buffer = new byte[256];
                while (DateTime.UtcNow < end)
                {
                    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    try
                    {
                        if (await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token) == 0)
                        {
                            Interlocked.Increment(ref closedByServer);
                            break;
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        await socket.SendAsync("X-Dribble: 1\r\n"u8.ToArray());
                    }
                }
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref errors); // refused, or reset when the agent displaced it
                await Task.Delay(100);
            }
            finally
            {
                if (socket.Connected)
                {
                    Interlocked.Decrement(ref open);
                }
            }
        }
    }).ToList();
    var reporter = Task.Run(async () =>
    {
        while (DateTime.UtcNow < end)
        {
            await Task.Delay(5000);
            Console.WriteLine($"slowloris t={(length - (end - DateTime.UtcNow)).TotalSeconds:F0}s opened={Interlocked.Read(ref opened)} closed_by_server={Interlocked.Read(ref closedByServer)} errors={Interlocked.Read(ref errors)}");
        }
    });
    await Task.WhenAll(workers);
    await reporter;
}

static async Task AuthFloodAsync(Uri url, int connections, TimeSpan length)
{
    using var client = Client(connections);
    var end = DateTime.UtcNow + length;
    var statuses = new Dictionary<string, int>();
    var workers = Enumerable.Range(0, connections).Select(async i =>
    {
        var header = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"prometheus:wrong-{i}")));
        while (DateTime.UtcNow < end)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Authorization = header;
            try
            {
                using var response = await client.SendAsync(request);
                lock (statuses)
                {
                    Count(statuses, ((int)response.StatusCode).ToString());
                }
            }
            catch (Exception ex)
            {
                lock (statuses)
                {
                    Count(statuses, ex.GetType().Name);
                }
            }
        }
    });
    await Task.WhenAll(workers);
    Console.WriteLine($"authflood {string.Join(' ', statuses.Select(s => $"{s.Key}={s.Value}"))} per_s={statuses.Values.Sum() / length.TotalSeconds:F0}");
}

static void Count(Dictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;
