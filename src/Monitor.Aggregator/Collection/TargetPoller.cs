using System.Diagnostics;
using System.Net.Http.Headers;
using Monitor.Aggregator.Storage;
using Monitor.Contracts;
using Prometheus;

namespace Monitor.Aggregator.Collection;

/// <summary>How one poll of one target went.</summary>
/// <param name="Target">The agent.</param>
/// <param name="Ok">Every page was read and stored.</param>
/// <param name="Pages">Feed answers applied.</param>
/// <param name="Records">Records that changed the store.</param>
/// <param name="Problem">Why not, when not.</param>
/// <param name="Truncated">The agent said the cursor was older than its retention: ended jobs may be missing.</param>
/// <param name="Behind">The poll stopped at <see cref="TargetPoller.MaxPages"/> answers with more to read: the target is behind.</param>
internal sealed record PollResult(string Target, bool Ok, int Pages, int Records, string? Problem, bool Truncated = false, bool Behind = false);

/// <summary>
/// Polls one agent's jobs feed from the stored cursor until it has caught up (<c>more</c> false), storing each answer
/// with its cursor in one transaction (<see cref="JobStore.Apply"/>). A target that times out, answers an HTTP
/// error or garbage costs only its own poll: the cursor stays, and the next poll starts from it.
/// </summary>
internal sealed class TargetPoller(HttpClient client, JobStore store, TimeProvider time, Alerting.RunningJobs? running = null)
{
    /// <summary>Records per feed answer.</summary>
    public const int PageSize = 1000;

    /// <summary>Answers read in one poll at most, so a target far behind cannot hold the cycle.</summary>
    public const int MaxPages = 100;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string?> _cursors = new(StringComparer.Ordinal);

    private static readonly Histogram StoreSeconds = Metrics.CreateHistogram(
        "monitor_aggregator_store_seconds",
        "Time to store one feed answer with its cursor, waiting for the writer included.",
        new HistogramConfiguration { Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });

    /// <summary>Polls <paramref name="target"/> (an agent's base address, e.g. http://node1:9420) within <paramref name="timeout"/>.</summary>
    public async Task<PollResult> PollAsync(string target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var (pages, records, truncated) = (0, 0, false);
        try
        {
            while (pages < MaxPages)
            {
                // The cursor this poller stored last, else the store's (after a start, or a standby taking over). A
                // cursor older than the store's only makes the agent send records again, which the revisions ignore.
                var cursor = (_cursors.TryGetValue(target, out var known) ? known : store.Target(target)?.Cursor) ?? "0";
                var uri = new Uri($"{target.TrimEnd('/')}/api/v1/jobs?since={Uri.EscapeDataString(cursor)}&limit={PageSize}");
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    return new PollResult(target, false, pages, records, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                }

                var body = await ReadBoundedAsync(response, deadline.Token).ConfigureAwait(false);
                var page = await store.InWriterTurnAsync(() => JobsFeedReader.Parse(body)).ConfigureAwait(false);
                var storing = Stopwatch.GetTimestamp();
                var now = time.GetUtcNow();
                records += await store.ApplyAsync(target, page, now).ConfigureAwait(false);
                running?.Apply(target, page, now);
                _cursors[target] = page.Cursor;
                StoreSeconds.Observe(Stopwatch.GetElapsedTime(storing).TotalSeconds);
                truncated |= page.Truncated;
                pages++;
                if (!page.More)
                {
                    return new PollResult(target, true, pages, records, null, truncated);
                }
            }

            return new PollResult(target, true, pages, records, null, truncated, Behind: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new PollResult(target, false, pages, records, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            return new PollResult(target, false, pages, records, e.Message);
        }
        catch (FeedFormatException e)
        {
            return new PollResult(target, false, pages, records, $"bad feed answer: {e.Message}");
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > JobsFeedReader.MaxBytes)
        {
            throw new FeedFormatException($"the answer is {response.Content.Headers.ContentLength} bytes, more than {JobsFeedReader.MaxBytes}");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920 / 2];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > JobsFeedReader.MaxBytes)
            {
                throw new FeedFormatException($"the answer is more than {JobsFeedReader.MaxBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
