namespace Monitor.Agent.Jobs.Kubernetes;

/// <summary>How a unary gRPC call over a unix socket ended.</summary>
internal enum GrpcCallOutcome
{
    /// <summary>grpc-status 0 and exactly one message.</summary>
    Ok,

    /// <summary>The socket file does not exist (the server is not running, or not on this node).</summary>
    SocketMissing,

    /// <summary>The socket exists but connecting failed (nothing listening, permission denied).</summary>
    ConnectFailed,

    /// <summary>No complete answer within the call's timeout (connect included).</summary>
    Timeout,

    /// <summary>An HTTP-level failure: a status other than 200, an HTTP/2 error, the stream cut short.</summary>
    HttpFailed,

    /// <summary>The server answered with a non-zero grpc-status.</summary>
    GrpcStatus,

    /// <summary>The reply is not valid gRPC: a bad frame, no message, no grpc-status, the wrong content type.</summary>
    MalformedReply,
}

/// <summary>
/// The end of one call: the reply message on <see cref="GrpcCallOutcome.Ok"/>, otherwise a
/// <paramref name="Problem"/> an operator can act on.
/// </summary>
internal readonly record struct GrpcCallResult(GrpcCallOutcome Outcome, byte[]? Message, string? Problem)
{
    /// <summary>A successful call with its reply message.</summary>
    public static GrpcCallResult Success(byte[] message) => new(GrpcCallOutcome.Ok, message, null);

    /// <summary>A failed call.</summary>
    public static GrpcCallResult Failure(GrpcCallOutcome outcome, string problem) => new(outcome, null, problem);
}
