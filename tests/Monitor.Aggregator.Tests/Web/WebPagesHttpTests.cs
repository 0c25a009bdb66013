using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Monitor.Aggregator.Api;
using Monitor.Aggregator.Storage;
using Monitor.Aggregator.Web;
using Monitor.Contracts;
using Monitor.Testing;

namespace Monitor.Aggregator.Tests.Web;

/// <summary>
/// The pages as <see cref="WebPages.Map"/> serves them over HTTP (Kestrel on 127.0.0.1): status codes, the media
/// type, the headers that keep a page inert, and the job form's redirect.
/// </summary>
public sealed class WebPagesHttpTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly HttpClient _client = new(new HttpClientHandler { AllowAutoRedirect = false });
    private WebApplication? _app;
    private readonly TempTree _tree = new();
    private Uri _base = null!;
    private JobStore? _store;

    public async Task InitializeAsync()
    {
        (string, NodeJobRecord)[] job = [("gpu17", SomeJob.Record("12345", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.5)))];
        UsageRow[] usage = [new("physics", 3600, 1800, 1.26e6, 0, 1)];
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        (string, NodeJobRecord)[] pod = [("gpu17", SomeJob.Record("team-a/train-0", Start, Start.AddHours(1), SomeJob.Gpu(0, 0.5)))];
        WebPages.Map(_app, id => id switch { "12345" => job, "team-a/train-0" => pod, _ => [] }, (_, _, _) => usage, new FakeTimeProvider(Start.AddDays(3)));
        _store = JobStore.OpenSqlite(_tree.Path("store.db"), "default");
        _store.Apply("http://gpu17:9420", new JobsFeedPage("gpu17", "c-1", false, false, false, [pod[0].Item2]), Start);
        ApiEndpoints.Map(_app, _store, null, new FakeTimeProvider(Start.AddDays(3)));
        await _app.StartAsync();
        _base = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _store?.Dispose();
        _tree.Dispose();
    }

    [Theory]
    [InlineData("/", HttpStatusCode.OK, "<a href=\"/usage\">")]
    [InlineData("/jobs/12345", HttpStatusCode.OK, "<svg class=\"chart\"")]
    [InlineData("/jobs/54321", HttpStatusCode.NotFound, "No node has reported job 54321.")]
    [InlineData("/jobs", HttpStatusCode.BadRequest, "Give a job id.")]
    [InlineData("/usage", HttpStatusCode.OK, "Jobs that ended from 2026-12-01 to 2026-12-05 (excluded)")]
    [InlineData("/usage?by=node", HttpStatusCode.BadRequest, "Bad query: by must be account, user, partition or day, not &#39;node&#39;.")]
    public async Task Get_Page_StatusHtmlAndInertHeaders(string path, HttpStatusCode status, string text)
    {
        using var response = await _client.GetAsync(new Uri(_base, path));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.StartsWith("default-src 'none';", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains(text, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/jobs/team-a/train-0")]
    [InlineData("/jobs/team-a%2Ftrain-0")]
    public async Task Get_KubernetesJob_NamespaceSlashPod(string path)
    {
        using var response = await _client.GetAsync(new Uri(_base, path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<h1>Job team-a/train-0<span", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/v1/jobs/team-a/train-0")]
    [InlineData("/api/v1/jobs/team-a%2Ftrain-0")]
    public async Task GetApi_KubernetesJob_NamespaceSlashPod(string path)
    {
        using var response = await _client.GetAsync(new Uri(_base, path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"job_id\": \"team-a/train-0\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_JobForm_RedirectsToTheJobsPage()
    {
        using var response = await _client.GetAsync(new Uri(_base, "/jobs?id=ns/pod%201"));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/jobs/ns%2Fpod%201", response.Headers.Location?.OriginalString);
    }
}
