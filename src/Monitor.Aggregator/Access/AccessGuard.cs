namespace Monitor.Aggregator.Access;

/// <summary>
/// With <c>--web.tokens-file</c>, every request but <c>/healthz</c> needs <c>Authorization: Bearer &lt;token&gt;</c>
/// with a token of the file: 401 without one. A token limited to some accounts sees only their jobs, usage and running
/// jobs (the handlers ask <see cref="Of"/>), and gets 403 on <c>/metrics</c> and <c>/openapi</c>, which cover every
/// account. Refusals are logged without the token: the remote address, the path, the reason and, for a known token,
/// its name; at most one line a minute, with how many were not logged.
/// </summary>
internal sealed partial class AccessGuard(TokenFile tokens, TimeProvider time, ILogger<AccessGuard> logger)
{
    private const string TokenItem = "monitor.token";
    private readonly Lock _gate = new();
    private DateTimeOffset _nextLog = DateTimeOffset.MinValue;
    private long _unlogged;

    /// <summary>The token the request was admitted with; null when access control is off.</summary>
    public static Token? Of(HttpContext context) => context.Items.TryGetValue(TokenItem, out var token) ? token as Token : null;

    /// <summary>Marks the request as admitted with <paramref name="token"/>.</summary>
    public static void Admit(HttpContext context, Token token) => context.Items[TokenItem] = token;

    /// <summary>The middleware.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (path == "/healthz")
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            Refuse(context, StatusCodes.Status401Unauthorized, "no bearer token", null);
            return;
        }

        if (tokens.Find(header["Bearer ".Length..].Trim()) is not { } token)
        {
            Refuse(context, StatusCodes.Status401Unauthorized, "unknown token", null);
            return;
        }

        if (!token.IsAdmin && (path.StartsWithSegments("/metrics") || path.StartsWithSegments("/openapi")))
        {
            Refuse(context, StatusCodes.Status403Forbidden, "the token sees some accounts only; this path covers all of them", token.Name);
            return;
        }

        Admit(context, token);
        await next(context).ConfigureAwait(false);
    }

    private void Refuse(HttpContext context, int status, string reason, string? tokenName)
    {
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"monitor-aggregator\"";
        }

        var now = time.GetUtcNow();
        long unlogged;
        lock (_gate)
        {
            if (now < _nextLog)
            {
                _unlogged++;
                return;
            }

            (_nextLog, unlogged, _unlogged) = (now.AddMinutes(1), _unlogged, 0);
        }

        LogRefused(logger, status, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", context.Request.Path.ToString(), reason, tokenName ?? "-", unlogged);
    }

    [LoggerMessage(EventId = 5200, EventName = "access_refused", Level = LogLevel.Warning,
        Message = "Refused {Status} to {Remote} for {Path}: {Reason} (token {Token}); {Unlogged} refusals not logged in the minute before")]
    private static partial void LogRefused(ILogger logger, int status, string remote, string path, string reason, string token, long unlogged);
}
