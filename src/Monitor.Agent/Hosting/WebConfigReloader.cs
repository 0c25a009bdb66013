using Microsoft.Extensions.Logging;
using Monitor.Agent.Configuration;
using Monitor.Core.Exposition;
using Monitor.Agent.Logging;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Holds the listener's current <see cref="WebSecurity"/> and replaces it when the agent gets SIGHUP, as Prometheus
/// and its exporters do: the web config file is read and checked again (certificates, keys, CA, users), and only a
/// file that passes every check replaces the settings in force. New connections use new certificates; requests,
/// also on open keep-alive connections, use the new users at once. A file that fails keeps the settings in force
/// and the log says why.
/// </summary>
internal sealed partial class WebConfigReloader
{
    private readonly string? _path;
    private readonly AuthGuard _guard;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _reloadLock = new();
    private readonly SharedSeries _lastSuccessful;
    private readonly SharedSeries _lastSuccessTime;
    private WebSecurity _current;

    /// <param name="path">The <c>--web.config.file</c>; null or empty when none was given.</param>
    /// <param name="config">The file as loaded at start.</param>
    /// <param name="tls">Its TLS settings as built at start.</param>
    /// <param name="guard">Shared auth limits.</param>
    /// <param name="registry">Where the reload metrics go; null in unit tests.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">Receives the reload results.</param>
    public WebConfigReloader(string? path, WebConfig config, Tls? tls, AuthGuard guard, MetricRegistry? registry, TimeProvider time, ILogger logger)
    {
        _path = string.IsNullOrEmpty(path) ? null : path;
        _guard = guard;
        _time = time;
        _logger = logger;
        _current = new WebSecurity(config, tls, config.BasicAuthUsers.Count > 0 ? new BasicAuthenticator(config.BasicAuthUsers, guard, time) : null);
        var group = new MetricGroup("web_config");
        _lastSuccessful = SharedSeries.Start(group.Gauge("monitor_agent_web_config_last_reload_successful", "1 if the last load of --web.config.file (at start or on SIGHUP) succeeded, 0 if it failed and the previous settings stayed in force.").Get(), 1);
        _lastSuccessTime = SharedSeries.Start(group.Gauge("monitor_agent_web_config_last_reload_success_timestamp_seconds", "When --web.config.file was last loaded successfully (Unix seconds).").Get(), time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
        registry?.Register(group);
    }

    /// <summary>The settings in force.</summary>
    public WebSecurity Current => Volatile.Read(ref _current);

    /// <summary>Reads the file again and swaps it in if it passes every check; true on success. Never throws.</summary>
    public bool Reload()
    {
        lock (_reloadLock)
        {
            if (_path is null)
            {
                LogNothingToReload(_logger);
                return true;
            }

            WebSecurity next;
            try
            {
                var config = WebConfig.Load(_path);
                var tls = Tls.Create(config);
                if ((tls is null) != (_current.Tls is null))
                {
                    throw new OptionsException(tls is null
                        ? "it turns TLS off, and the listener cannot switch from HTTPS to HTTP without a restart"
                        : "it turns TLS on, and the listener cannot switch from HTTP to HTTPS without a restart");
                }

                next = new WebSecurity(config, tls, config.BasicAuthUsers.Count > 0 ? new BasicAuthenticator(config.BasicAuthUsers, _guard, _time) : null);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // OptionsException carries the reason in words; anything else (I/O, a crypto failure the checks did
                // not foresee) must not take the listener down either.
                _lastSuccessful.Set(0);
                LogReloadFailed(_logger, _path, ex is OptionsException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}");
                return false;
            }

            Volatile.Write(ref _current, next);
            if (next.Authenticator is null)
            {
                _guard.SetCacheEntries(0);
            }

            _lastSuccessful.Set(1);
            _lastSuccessTime.Set(_time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            LogReloaded(
                _logger,
                _path,
                next.Tls is null ? "off" : $"on ({next.Tls.Certificate.Subject}, valid until {next.Tls.Certificate.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ})",
                next.Config.BasicAuthUsers.Count);
            return true;
        }
    }

    [LoggerMessage(EventId = EventIds.WebConfigReloaded, EventName = "web_config_reloaded", Level = LogLevel.Information,
        Message = "SIGHUP: reloaded --web.config.file '{Path}': TLS {Tls}, {Users} basic-auth user(s)")]
    private static partial void LogReloaded(ILogger logger, string path, string tls, int users);

    [LoggerMessage(EventId = EventIds.WebConfigReloadFailed, EventName = "web_config_reload_failed", Level = LogLevel.Error,
        Message = "SIGHUP: --web.config.file '{Path}' was not reloaded, the previous settings stay in force: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = EventIds.WebConfigReloadNone, EventName = "web_config_reload_none", Level = LogLevel.Information,
        Message = "SIGHUP: no --web.config.file to reload")]
    private static partial void LogNothingToReload(ILogger logger);
}
