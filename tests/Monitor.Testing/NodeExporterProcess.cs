using System.Diagnostics;

namespace Monitor.Testing;

/// <summary>
/// The real node_exporter (Debian's 1.5.0) on a loopback port chosen at run time, as the peer that side-by-side tests
/// compare the agent with. Killed on dispose, and by <c>timeout</c> after 10 minutes whatever happens.
/// </summary>
public sealed class NodeExporterProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeExporterProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    /// <summary>Where it serves <c>/metrics</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Starts node_exporter with <paramref name="args"/> and waits until it answers a scrape.</summary>
    public static async Task<NodeExporterProcess> StartAsync(params string[] args)
    {
        var exporter = ExternalTool.Require("prometheus-node-exporter", "prometheus-node-exporter");
        var port = ExternalTool.FreePort();
        var info = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "600", exporter, $"--web.listen-address=127.0.0.1:{port}" }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new NodeExporterProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var response = await client.GetAsync(new Uri(server.BaseAddress, "metrics"));
                if (response.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (process.HasExited)
            {
                break;
            }

            await Task.Delay(100);
        }

        await server.DisposeAsync();
        throw new InvalidOperationException($"node_exporter did not answer on port {port}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
