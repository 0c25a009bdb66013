using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Monitor.Testing;

/// <summary>
/// A real Prometheus server (the Debian package) on 127.0.0.1 with a throw-away data directory, for end-to-end
/// scrape tests. Wrapped in <c>timeout</c> so it stops itself even if the test run dies.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly HttpClient _client;

    private PrometheusServer(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>
    /// Starts Prometheus with <paramref name="scrapeConfigsYaml"/> under <c>scrape_configs:</c>, and the rule files
    /// <paramref name="ruleFiles"/> (absolute paths) under <c>rule_files:</c>, evaluated every second.
    /// </summary>
    public static async Task<PrometheusServer> StartAsync(string scrapeConfigsYaml, IReadOnlyList<string>? ruleFiles = null)
    {
        var prometheus = ExternalTool.Require("prometheus", "prometheus");
        var directory = Directory.CreateTempSubdirectory("monitor-prom-").FullName;
        var config = Path.Join(directory, "prometheus.yml");
        var rules = ruleFiles is { Count: > 0 }
            ? "rule_files:\n" + string.Concat(ruleFiles.Select(f => $"  - '{f.Replace("'", "''", StringComparison.Ordinal)}'\n"))
            : "";
        await File.WriteAllTextAsync(config, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n" + rules + "scrape_configs:\n" + scrapeConfigsYaml);
        var port = ExternalTool.FreePort();
        var info = new ProcessStartInfo("timeout")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "600", prometheus, $"--config.file={config}", $"--storage.tsdb.path={Path.Join(directory, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        await server.WaitUntilAsync(async () =>
        {
            try
            {
                using var ready = await server._client.GetAsync("-/ready");
                return ready.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "Prometheus did not become ready");
        return server;
    }

    /// <summary>
    /// Runs an instant query, now or at <paramref name="at"/> (so that several queries see the same samples), and
    /// returns each result's labels and value.
    /// </summary>
    public async Task<IReadOnlyList<(Dictionary<string, string> Labels, double Value)>> QueryAsync(string promql, DateTimeOffset? at = null)
    {
        var time = at is { } t ? "&time=" + (t.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture) : "";
        using var response = await _client.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(promql) + time);
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        if (json.RootElement.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"query '{promql}' failed: {body}");
        }

        var results = new List<(Dictionary<string, string>, double)>();
        foreach (var item in json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = item.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            var value = item.GetProperty("value")[1].GetString()!;
            results.Add((labels, double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return results;
    }

    /// <summary>
    /// How many results an instant query at <paramref name="at"/> returns (1 for a scalar), or the error Prometheus
    /// gives for it: for queries of any result type, such as a dashboard's.
    /// </summary>
    public async Task<(int Count, string? Error)> CountAsync(string promql, DateTimeOffset at)
    {
        var time = (at.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
        using var response = await _client.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(promql) + "&time=" + time);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        if (json.RootElement.GetProperty("status").GetString() != "success")
        {
            return (0, json.RootElement.GetProperty("error").GetString());
        }

        var data = json.RootElement.GetProperty("data");
        return data.GetProperty("resultType").GetString() is "scalar" or "string" ? (1, null) : (data.GetProperty("result").GetArrayLength(), null);
    }

    /// <summary>
    /// The values of <paramref name="label"/> on the series <paramref name="match"/> selects
    /// (<c>/api/v1/label/&lt;label&gt;/values</c>, what Grafana's <c>label_values(match, label)</c> asks).
    /// </summary>
    public async Task<IReadOnlyList<string>> LabelValuesAsync(string label, string match)
    {
        using var response = await _client.GetAsync($"api/v1/label/{Uri.EscapeDataString(label)}/values?match[]={Uri.EscapeDataString(match)}");
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        if (json.RootElement.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"label_values({match}, {label}) failed: {body}");
        }

        return [.. json.RootElement.GetProperty("data").EnumerateArray().Select(v => v.GetString()!)];
    }

    /// <summary>The targets API document, for diagnostics.</summary>
    public Task<string> TargetsAsync() => _client.GetStringAsync("api/v1/targets");

    /// <summary>Polls <paramref name="condition"/> every 250 ms until it holds or <paramref name="timeout"/> passes.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Prometheus exited with {_process.ExitCode}");
            }

            if (await condition())
            {
                return;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException(failure);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }
}
