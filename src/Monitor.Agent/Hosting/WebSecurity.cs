namespace Monitor.Agent.Hosting;

/// <summary>One generation of the listener's security settings: what a web config file said, ready to serve.</summary>
/// <param name="Config">The parsed file (an empty one without <c>--web.config.file</c>).</param>
/// <param name="Tls">The TLS server options; null for plain HTTP.</param>
/// <param name="Authenticator">Basic auth; null when the file lists no users.</param>
internal sealed record WebSecurity(WebConfig Config, Tls? Tls, BasicAuthenticator? Authenticator);
