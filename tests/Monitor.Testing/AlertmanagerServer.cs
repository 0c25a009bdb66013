using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Monitor.Testing;

/// <summary>
/// A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 with a port picked at run time, clustering off
/// and a throw-away storage folder, wrapped in <c>timeout</c> so it stops itself even if the test run dies.
/// </summary>
public sealed class AlertmanagerServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _log = new();

    private AlertmanagerServer(Process process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Its base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; }

    /// <summary>A client for its API.</summary>
    public HttpClient Client { get; }

    /// <summary>What it logged.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts Alertmanager with <paramref name="config"/> (YAML), written beside <paramref name="files"/> (name to content, e.g. templates).</summary>
    public static async Task<AlertmanagerServer> StartAsync(string config, IReadOnlyDictionary<string, string>? files = null)
    {
        var alertmanager = ExternalTool.Require("prometheus-alertmanager", "prometheus-alertmanager");
        var directory = Directory.CreateTempSubdirectory("monitor-am-").FullName;
        await File.WriteAllTextAsync(Path.Join(directory, "alertmanager.yml"), config);
        foreach (var (name, content) in files ?? new Dictionary<string, string>())
        {
            await File.WriteAllTextAsync(Path.Join(directory, name), content);
        }

        var port = ExternalTool.FreePort();
        var info = new ProcessStartInfo("timeout") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory };
        foreach (var arg in new[]
                 {
                     "600", alertmanager, $"--config.file={Path.Join(directory, "alertmanager.yml")}", $"--storage.path={Path.Join(directory, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=info",
                 })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        var server = new AlertmanagerServer(process, directory, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"Alertmanager exited with {process.ExitCode}:\n{server.Log}");
            }

            try
            {
                using var ready = await server.Client.GetAsync("-/ready");
                if (ready.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Alertmanager not ready within 60 s:\n{server.Log}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The alerts it holds now (<c>GET /api/v2/alerts</c>: active, silenced and inhibited, not resolved), with their receivers.</summary>
    public async Task<IReadOnlyList<JsonElement>> AlertsAsync()
    {
        using var document = JsonDocument.Parse(await Client.GetStringAsync("api/v2/alerts"));
        return [.. document.RootElement.EnumerateArray().Select(a => a.Clone())];
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }
}

/// <summary>
/// An HTTP receiver for Alertmanager's webhook notifications on 127.0.0.1 (port picked at run time): every POST is
/// recorded with its path, so a test sees which receiver was notified of what.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Path, JsonElement Body)> _received = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>Its base address, e.g. <c>http://127.0.0.1:41234</c> (no trailing slash).</summary>
    public string Address { get; private set; } = "";

    /// <summary>Every notification so far, in order: the path it was posted to and its JSON body.</summary>
    public IReadOnlyList<(string Path, JsonElement Body)> Received => [.. _received];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Run(async context =>
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body);
            receiver._received.Enqueue((context.Request.Path.Value ?? "", document.RootElement.Clone()));
            context.Response.StatusCode = StatusCodes.Status200OK;
        });
        await app.StartAsync();
        receiver.Address = app.Services.GetService(typeof(IServer)) is IServer server ? server.Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') : throw new InvalidOperationException("no server");
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
