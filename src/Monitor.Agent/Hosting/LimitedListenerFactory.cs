using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace Monitor.Agent.Hosting;

/// <summary>
/// Kestrel's socket transport with <see cref="ConnectionLimiter"/> in its accept loop. Registered after Kestrel's own
/// factory, so Kestrel (which tries the last registered first) binds through this one.
/// </summary>
internal sealed class LimitedListenerFactory(ConnectionLimiter limiter, IServiceProvider services) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    // Built from the container like Kestrel's own, so it gets the same options and the shared memory pool factory
    // (whose pools give idle blocks back; a pool of its own did not: +30 MB RSS under 200 concurrent scrapers).
    private readonly SocketTransportFactory _sockets = ActivatorUtilities.CreateInstance<SocketTransportFactory>(services);

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new Listener(await _sockets.BindAsync(endpoint, cancellationToken).ConfigureAwait(false), limiter);

    private sealed class Listener(IConnectionListener inner, ConnectionLimiter limiter) : IConnectionListener
    {
        private readonly CancellationTokenSource _unbound = new();

        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbound.Token))
                {
                    try
                    {
                        await limiter.WaitForRoomAsync(linked.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return null;
                    }
                }

                var connection = await inner.AcceptAsync(cancellationToken).ConfigureAwait(false);
                if (connection is null)
                {
                    return null;
                }

                var admitted = limiter.Admit(connection);
                if (admitted is not null)
                {
                    return admitted;
                }

                connection.Abort(new ConnectionAbortedException("Every connection slot is serving a request (--web.max-connections)."));
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            await _unbound.CancelAsync().ConfigureAwait(false);
            await inner.UnbindAsync(cancellationToken).ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            await _unbound.CancelAsync().ConfigureAwait(false);
            await inner.DisposeAsync().ConfigureAwait(false);
            _unbound.Dispose();
        }
    }
}
