using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Api;

public class StreamingApiTests(WorkerFixture worker)
{
    private readonly HttpClient _client = worker.CreateClient();

    private async Task<List<SseEvent>> StreamAsync(string path, object body)
    {
        using var response = await _client.PostJsonAsync(path, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return await Sse.ReadAllAsync(response);
    }

    [Fact]
    public async Task StreamedCompletion_IsDataEventsEndingWithDone_AndAddsUpToTheUnstreamedText()
    {
        var request = new Dictionary<string, object> { ["prompt"] = "The market opened", ["max_tokens"] = 40, ["temperature"] = 0, ["ignore_eos"] = true };
        using var plain = await _client.PostJsonAsync("/v1/completions", request);
        var expected = CompletionsApiTests.Text(await plain.JsonAsync());

        request["stream"] = true;
        var events = await StreamAsync("/v1/completions", request);

        Assert.True(events[^1].IsDone);
        var chunks = events[..^1].Select(e => e.Json).ToArray();
        Assert.True(chunks.Length > 1);
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
        Assert.Equal(expected, string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.Equal("length", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamedChat_StartsWithTheRole_AndIncludeUsageEndsWithAUsageChunk()
    {
        var events = await StreamAsync("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Can you write a short poem about the sea?" } },
            max_tokens = 12,
            temperature = 0,
            ignore_eos = true,
            stream = true,
            stream_options = new { include_usage = true },
        });

        Assert.True(events[^1].IsDone);
        var chunks = events[..^1].Select(e => e.Json).ToArray();
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk.GetProperty("choices").EnumerateArray());
        Assert.Equal(12, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var contentChunks = chunks[..^1];
        Assert.All(contentChunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.All(contentChunks, c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal("assistant", contentChunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.All(contentChunks[1..], c => Assert.False(c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("role", out _)));
        Assert.Equal("length", contentChunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamedCompletion_StopString_NeverReachesTheClient()
    {
        var request = new Dictionary<string, object> { ["prompt"] = "When two models agree", ["max_tokens"] = 60, ["temperature"] = 0, ["ignore_eos"] = true };
        using var plain = await _client.PostJsonAsync("/v1/completions", request);
        var full = CompletionsApiTests.Text(await plain.JsonAsync());
        var stop = full.Substring(15, 8);

        request["stop"] = stop;
        request["stream"] = true;
        var chunks = (await StreamAsync("/v1/completions", request))[..^1].Select(e => e.Json).ToArray();
        var streamed = string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));

        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], streamed);
        Assert.Equal("stop", chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamedCompletion_WithN_FinishesEveryChoiceOnce()
    {
        var chunks = (await StreamAsync("/v1/completions", new { prompt = "Memory is a budget", n = 3, max_tokens = 10, seed = 1, ignore_eos = true, stream = true }))[..^1]
            .Select(e => e.Json.GetProperty("choices")[0]).ToArray();

        var finishes = chunks.Where(c => c.GetProperty("finish_reason").ValueKind != JsonValueKind.Null).Select(c => c.GetProperty("index").GetInt32()).Order();
        Assert.Equal([0, 1, 2], finishes);
    }
}
