using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Api;

/// <summary>Every class of bad input gets OpenAI's error object with the right status, and the server carries on.</summary>
public class BadInputTests(WorkerFixture worker)
{
    private readonly HttpClient _client = worker.CreateClient();

    private static readonly string TooLongPrompt = string.Concat(Enumerable.Repeat("The cat sat by the window. ", 200));

    public static TheoryData<string, string, int, string?> Cases => new()
    {
        // path, raw body, status, param
        { "/v1/completions", "{\"prompt\": \"hi\"", 400, null },
        { "/v1/completions", "[1, 2, 3]", 400, null },
        { "/v1/completions", "", 400, null },
        { "/v1/completions", """{"model": "gpt-4", "prompt": "hi"}""", 404, "model" },
        { "/v1/chat/completions", """{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}""", 404, "model" },
        { "/v1/completions", """{"max_tokens": 5}""", 400, "prompt" },
        { "/v1/chat/completions", """{"max_tokens": 5}""", 400, "messages" },
        { "/v1/completions", """{"prompt": 5}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": ""}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": []}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": [1, 99999]}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": [1, -1]}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": "hi", "max_tokens": "ten"}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt": "hi", "max_tokens": 0}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt": "hi", "max_tokens": 600}""", 400, "max_tokens" },
        { "/v1/completions", """{"prompt": "hi", "temperature": "hot"}""", 400, "temperature" },
        { "/v1/completions", """{"prompt": "hi", "temperature": 2.5}""", 400, "temperature" },
        { "/v1/completions", """{"prompt": "hi", "top_p": 0}""", 400, "top_p" },
        { "/v1/completions", """{"prompt": "hi", "top_p": 1.5}""", 400, "top_p" },
        { "/v1/completions", """{"prompt": "hi", "top_k": -2}""", 400, "top_k" },
        { "/v1/completions", """{"prompt": "hi", "n": 0}""", 400, "n" },
        { "/v1/completions", """{"prompt": "hi", "n": 1.5}""", 400, "n" },
        { "/v1/completions", """{"prompt": "hi", "n": 129}""", 400, "n" },
        { "/v1/completions", """{"prompt": "hi", "seed": "abc"}""", 400, "seed" },
        { "/v1/completions", """{"prompt": "hi", "stop": 5}""", 400, "stop" },
        { "/v1/completions", """{"prompt": "hi", "stop": [""]}""", 400, "stop" },
        { "/v1/completions", """{"prompt": "hi", "stream": "yes"}""", 400, "stream" },
        { "/v1/completions", """{"prompt": "hi", "stream_options": {"include_usage": true}}""", 400, "stream_options" },
        { "/v1/completions", """{"prompt": "hi", "logprobs": 21}""", 400, "logprobs" },
        { "/v1/completions", """{"prompt": "hi", "logprobs": -1}""", 400, "logprobs" },
        { "/v1/completions", """{"prompt": "hi", "prompt_logprobs": 21}""", 400, "prompt_logprobs" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "echo": true}""", 400, "echo" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}""", 400, "top_logprobs" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": 21}""", 400, "top_logprobs" },
        { "/v1/completions", """{"prompt": "hi", "stop_token_ids": [100000]}""", 400, "stop_token_ids" },
        { "/v1/chat/completions", """{"messages": []}""", 400, "messages" },
        { "/v1/chat/completions", """{"messages": "hi"}""", 400, "messages" },
        { "/v1/chat/completions", """{"messages": [{"content": "hi"}]}""", 400, "messages[0].role" },
        { "/v1/chat/completions", """{"messages": [{"role": "wizard", "content": "hi"}]}""", 400, "messages[0].role" },
        { "/v1/chat/completions", """{"messages": [{"role": "user"}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": 42}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": -1}""", 400, "max_completion_tokens" },
        { "/v1/completions", JsonSerializer.Serialize(new { prompt = TooLongPrompt }), 400, "prompt" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 600}""", 400, "max_completion_tokens" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 600}""", 400, "max_tokens" },
        // JSON can spell an unpaired UTF-16 surrogate; no .NET string can hold one.
        { "/v1/completions", """{"model": "\ud800", "prompt": "hi"}""", 400, "model" },
        { "/v1/completions", """{"prompt": "a\ud800b"}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": ["fine", "\udc00"]}""", 400, "prompt" },
        { "/v1/completions", """{"prompt": "hi", "stop": "\ud800"}""", 400, "stop" },
        { "/v1/completions", """{"prompt": "hi", "stop": ["ok", "\udfff"]}""", 400, "stop" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": "\ud800"}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"messages": [{"role": "user", "content": [{"type": "text", "text": "\ud800"}]}]}""", 400, "messages[0].content" },
        { "/v1/chat/completions", """{"messages": [{"role": "\ud800", "content": "hi"}]}""", 400, "messages[0].role" },
        { "/v1/chat/completions", """{"messages": [{"role": 5, "content": "hi"}]}""", 400, "messages[0].role" },
        { "/v1/completions", """{"prompt": "hi", "stream": true, "stream_options": {"include_usage": "yes"}}""", 400, "stream_options.include_usage" },
        // What one request may create is bounded (README "Limits and errors").
        { "/v1/completions", JsonSerializer.Serialize(new { prompt = Enumerable.Repeat("a", 257).ToArray() }), 400, "prompt" },
        { "/v1/completions", """{"prompt": ["a", "b", "c"], "n": 100}""", 400, "n" },
        { "/v1/completions", JsonSerializer.Serialize(new { prompt = "hi", stop = Enumerable.Range(0, 17).Select(i => $"s{i}").ToArray() }), 400, "stop" },
        { "/v1/completions", JsonSerializer.Serialize(new { prompt = "hi", stop = new string('x', 1025) }), 400, "stop" },
        { "/v1/completions", JsonSerializer.Serialize(new { prompt = "hi", stop_token_ids = Enumerable.Repeat(1, 1025).ToArray() }), 400, "stop_token_ids" },
        { "/v1/completions", """{"prompt": "hi", "logit_bias": {"1": 100}}""", 400, "logit_bias" },
        // Ambiguous or pathological JSON.
        { "/v1/completions", """{"prompt": "hi", "prompt": "ho"}""", 400, null },
        { "/v1/completions", "{\"prompt\": " + new string('[', 200) + new string(']', 200) + "}", 400, null },
        { "/v1/chat/completions", JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = TooLongPrompt } } }), 400, "messages" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsAnOpenAiErrorNamingTheProblem(string path, string body, int status, string? param)
    {
        using var response = await _client.PostRawAsync(path, body);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(status == 404 ? "not_found_error" : "invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.True(error.TryGetProperty("code", out _));
    }

    [Fact]
    public async Task PromptLongerThanTheContext_SaysHowLongTheContextIs()
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { prompt = TooLongPrompt });
        var error = (await response.JsonAsync()).GetProperty("error");

        Assert.Contains("maximum context length is 512 tokens", error.GetProperty("message").GetString());
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task InvalidRequestIdHeader_IsRefused()
    {
        using var response = await _client.PostJsonAsync("/v1/completions", new { prompt = "hi" }, requestId: new string('x', 65));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("X-Request-Id", (await response.JsonAsync()).GetProperty("error").GetProperty("param").GetString());
    }
}

public class BadInputRecoveryTests(DedicatedWorkerFixture fixture) : IClassFixture<DedicatedWorkerFixture>
{
    [Fact]
    public async Task AfterEveryKindOfBadRequest_TheServerStillServes_AndHoldsNothing()
    {
        using var client = fixture.Worker.CreateClient();
        foreach (var row in BadInputTests.Cases)
        {
            var (path, body, _, _) = row.Data;
            using var _ = await client.PostRawAsync(path, body);
        }
        using var ok = await client.PostJsonAsync("/v1/completions", new { prompt = "Still here?", max_tokens = 3 });

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var idle = await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(5));
        WorkerApp.AssertHoldsNothing(idle);
    }
}
