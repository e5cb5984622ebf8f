using System.Diagnostics;
using System.Text.Json;

namespace Tests.Support;

/// <summary>One server-sent event as the client saw it: its data and when it arrived.</summary>
public sealed record SseEvent(string Data, TimeSpan ArrivedAfter)
{
    public bool IsDone => Data == "[DONE]";

    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
}

public static class Sse
{
    /// <summary>
    /// Reads a text/event-stream to its end, checking the framing on the way: every event is a single
    /// "data: " line followed by a blank line.
    /// </summary>
    public static async Task<List<SseEvent>> ReadAllAsync(HttpResponseMessage response, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var events = new List<SseEvent>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            Assert.StartsWith("data: ", line);
            events.Add(new SseEvent(line["data: ".Length..], clock.Elapsed));
            Assert.Equal("", await reader.ReadLineAsync(cancellationToken));
        }
        return events;
    }
}
