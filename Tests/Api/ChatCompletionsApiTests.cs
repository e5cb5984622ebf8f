using System.Net;
using System.Text.Json;
using Tests.Support;

namespace Tests.Api;

public class ChatCompletionsApiTests(WorkerFixture worker)
{
    private readonly HttpClient _client = worker.CreateClient();

    private async Task<JsonElement> ChatAsync(object body)
    {
        using var response = await _client.PostJsonAsync("/v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task Chat_HasTheChatCompletionShape_AndCountsTheRenderedPrompt()
    {
        var body = await ChatAsync(new
        {
            model = WorkerApp.ModelName,
            messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "What is the capital of France?" } },
            max_tokens = 6,
            temperature = 0,
            ignore_eos = true,
        });

        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.False(string.IsNullOrEmpty(choice.GetProperty("message").GetProperty("content").GetString()));
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var rendered = "system: Be brief.\nuser: What is the capital of France?\nassistant:";
        Assert.Equal(worker.Engine.Model.Encode(rendered).Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(6, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_ContentParts_AreTheSameAsPlainText()
    {
        var plain = await ChatAsync(new { messages = new[] { new { role = "user", content = "Tell me a fact about the moon." } }, max_tokens = 12, temperature = 0 });
        var parts = await ChatAsync(new
        {
            messages = new[] { new { role = "user", content = new[] { new { type = "text", text = "Tell me a fact " }, new { type = "text", text = "about the moon." } } } },
            max_tokens = 12,
            temperature = 0,
        });

        Assert.Equal(Content(plain), Content(parts));
        Assert.Equal(plain.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), parts.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_MaxCompletionTokens_LimitsTheOutput()
    {
        var body = await ChatAsync(new { messages = new[] { new { role = "user", content = "Hi" } }, max_completion_tokens = 3, ignore_eos = true });
        Assert.Equal(3, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_WithoutMaxTokens_MayUseTheRestOfTheContext()
    {
        var body = await ChatAsync(new { messages = new[] { new { role = "user", content = "Hi" } }, ignore_eos = true, temperature = 0 });
        var usage = body.GetProperty("usage");
        Assert.Equal(512, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Chat_MultiTurn_RendersEveryTurn()
    {
        var oneTurn = await ChatAsync(new { messages = new[] { new { role = "user", content = "How many days are in a week?" } }, max_tokens = 1 });
        var threeTurns = await ChatAsync(new
        {
            messages = new[]
            {
                new { role = "user", content = "How many days are in a week?" },
                new { role = "assistant", content = "There are seven days in a week." },
                new { role = "user", content = "Thank you." },
            },
            max_tokens = 1,
        });
        var extra = worker.Engine.Model.Encode("assistant: There are seven days in a week.\nuser: Thank you.\n").Length;
        Assert.Equal(oneTurn.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() + extra,
                     threeTurns.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    internal static string Content(JsonElement body) => body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
}
