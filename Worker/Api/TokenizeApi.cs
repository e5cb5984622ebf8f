using Worker.Hosting;

namespace Worker.Api;

/// <summary>
/// vLLM's POST /tokenize: a prompt (text or token ids) or chat messages, as the generation endpoints would run them, to
/// token ids: {"count","max_model_len","tokens"}. Routers use it to weigh a prompt (the gateway's P/D decision).
/// </summary>
public static class TokenizeApi
{
    public static IEndpointRouteBuilder MapTokenizeApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/tokenize", TokenizeAsync).WithName("Tokenize").WithSummary("Token ids of a prompt or of chat messages.");
        return routes;
    }

    private static async Task TokenizeAsync(HttpContext http, EngineHost host)
    {
        var instance = host.TryHold();
        try
        {
            if (instance is null)
            {
                throw OpenAiApi.NotLoaded();
            }
            var fields = await JsonFields.ReadBodyAsync(http.Request, http.RequestAborted);
            int[] tokens;
            if (fields.Get("messages") is not null)
            {
                tokens = ChatRequestReader.Prompt(fields, instance.Model);
            }
            else
            {
                var prompts = CompletionRequestReader.ReadPrompts(fields.Require("prompt"), instance.Model);
                tokens = prompts.Length == 1 ? prompts[0] : throw ApiException.BadRequest("'prompt' must be one prompt.", "prompt");
            }
            await http.Response.WriteAsJsonAsync(new { count = tokens.Length, max_model_len = instance.Model.MaxModelLength, tokens }, ResponseJson.Options, http.RequestAborted);
        }
        catch (ApiException e) when (!http.Response.HasStarted)
        {
            await e.ToResult().ExecuteAsync(http);
        }
        finally
        {
            instance?.Release();
        }
    }
}
