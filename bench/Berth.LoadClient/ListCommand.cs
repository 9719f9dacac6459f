using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Berth.LoadClient;

/// <summary>
/// Times fetching a whole listing (<c>/tags/list</c> or <c>/_catalog</c>): the first page, then
/// every <c>Link: &lt;...&gt;; rel="next"</c> until there is none. One untimed walk warms up,
/// then up to <c>--repeat</c> timed walks (bounded by <c>--max-seconds</c>) over one kept-alive
/// connection; reports the median and minimum walk time, pages and items.
/// </summary>
internal static class ListCommand
{
    private const int MaxPages = 100_000;

    public static async Task<int> RunAsync(CommandOptions options)
    {
        var url = new Uri(options.Get("url"));
        var repeat = options.GetInt("repeat", 10);
        var deadline = Stopwatch.GetTimestamp() + (long)(options.GetDouble("max-seconds", 60) * Stopwatch.Frequency);
        var expectItems = options.GetLong("expect-items", -1);

        using var handler = Output.Handler(1);
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
        var (pages, items) = await WalkAsync(client, url);
        if (expectItems >= 0 && items < expectItems)
        {
            throw new BenchmarkException($"{url}: {items} items, expected at least {expectItems}");
        }

        var times = new List<double>();
        while (times.Count < repeat && (times.Count == 0 || Stopwatch.GetTimestamp() < deadline))
        {
            var start = Stopwatch.GetTimestamp();
            var (p, n) = await WalkAsync(client, url);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (p != pages || n != items)
            {
                throw new BenchmarkException($"{url}: the listing changed between walks ({pages}/{items} then {p}/{n})");
            }
        }

        var sorted = times.Order().ToArray();
        Output.Line(("median_ms", Output.F(Output.Quantile(sorted, 0.5), 2)), ("min_ms", Output.F(sorted[0], 2)),
            ("walks", sorted.Length), ("pages", pages), ("items", items));
        return 0;
    }

    /// <summary>One walk: the first page, then every next link; pages and listed items.</summary>
    internal static async Task<(int Pages, long Items)> WalkAsync(HttpClient client, Uri first, CancellationToken cancellationToken = default)
    {
        var pages = 0;
        var items = 0L;
        for (Uri? next = first; next is not null; pages++)
        {
            if (pages >= MaxPages)
            {
                throw new BenchmarkException($"{first}: more than {MaxPages} pages");
            }

            using var response = await client.GetAsync(next, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                await PushCommands.ExpectAsync(response, HttpStatusCode.OK, $"GET {next}");
            }

            items += CountListedItems(await response.Content.ReadAsByteArrayAsync(cancellationToken));

            next = NextLink(first, response);
        }

        return (pages, items);
    }

    /// <summary>
    /// The strings in the top-level <c>tags</c> or <c>repositories</c> array, counted with a forward-only reader: a
    /// document model of thousands of names costs the client more than a fast server spends answering.
    /// </summary>
    private static long CountListedItems(byte[] body)
    {
        var reader = new Utf8JsonReader(body);
        var count = 0L;
        var inList = false;
        while (reader.Read())
        {
            if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName)
            {
                inList = reader.ValueTextEquals("tags"u8) || reader.ValueTextEquals("repositories"u8);
            }
            else if (inList && reader.CurrentDepth == 2 && reader.TokenType == JsonTokenType.String)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The target of <c>Link: &lt;url&gt;; rel="next"</c>, relative to the first URL, or null.</summary>
    private static Uri? NextLink(Uri baseUri, HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }

        foreach (var value in values)
        {
            foreach (var part in value.Split(','))
            {
                var open = part.IndexOf('<', StringComparison.Ordinal);
                var close = part.IndexOf('>', StringComparison.Ordinal);
                if (open >= 0 && close > open && part.Contains("rel=\"next\"", StringComparison.Ordinal))
                {
                    return new Uri(baseUri, part[(open + 1)..close]);
                }
            }
        }

        return null;
    }
}
