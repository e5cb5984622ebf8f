using Microsoft.Extensions.Options;
using Worker.Engine;
using Worker.Hosting;
using Worker.Options;

namespace Worker.Api;

/// <summary>The OpenAI-compatible endpoints: models, text completions and chat completions.</summary>
public static class OpenAiApi
{
    /// <summary>What the endpoints use besides the engine host: structured-output compilation.</summary>
    public static IServiceCollection AddOpenAiApi(this IServiceCollection services) => services.AddSingleton<StructuredOutputs>();

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder routes)
    {
        // Created now, not on the first constrained request: its series are on /metrics from start-up, at zero.
        routes.ServiceProvider.GetRequiredService<StructuredOutputs>();
        var v1 = routes.MapGroup("/v1");
        v1.MapGet("/models", ListModels).WithName("ListModels").WithSummary("The served model names.");
        v1.MapPost("/completions", (HttpContext http, EngineHost host, IOptions<ServeOptions> options, StructuredOutputs structured, ILoggerFactory logs) => GenerateAsync(http, host, options, structured, logs, CompletionRequestReader.Read, CompletionFormat.Instance))
            .WithName("CreateCompletion").WithSummary("Text completion, streamed or not.");
        v1.MapPost("/chat/completions", (HttpContext http, EngineHost host, IOptions<ServeOptions> options, StructuredOutputs structured, ILoggerFactory logs) => GenerateAsync(http, host, options, structured, logs, ChatRequestReader.Read, ChatFormat.Instance))
            .WithName("CreateChatCompletion").WithSummary("Chat completion with the model's chat template, streamed or not.");
        routes.MapGet("/engine/stats", (EngineHost host) => host.Engine is { } engine ? Results.Ok(engine.Snapshot) : NotLoaded().ToResult())
            .WithName("EngineStats").WithSummary("The engine's own counts: running, waiting, active requests, KV slots in use, blocks.");
        return routes;
    }

    private static IResult ListModels(EngineHost host)
    {
        if (host.Engine is not { } engine)
        {
            return (host.IsSleeping ? Sleeping() : NotLoaded()).ToResult();
        }
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // As vLLM's show_available_models: the base's names, then each adapter with its base as parent.
        var bases = host.ServedModelNames.Select(name => new ModelCard(name, created, engine.Model.Folder.Path, null, engine.Model.MaxModelLength));
        var adapters = host.Loras.All.Select(a => new ModelCard(a.Lora.Name, created, a.Lora.Path, a.Parent, engine.Model.MaxModelLength));
        return Results.Json(new { @object = "list", data = bases.Concat(adapters) });
    }

    private sealed record ModelCard(
        [property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id,
        [property: System.Text.Json.Serialization.JsonPropertyName("created")] long Created,
        [property: System.Text.Json.Serialization.JsonPropertyName("root")] string Root,
        [property: System.Text.Json.Serialization.JsonPropertyName("parent")] string? Parent,
        [property: System.Text.Json.Serialization.JsonPropertyName("max_model_len")] int MaxModelLen)
    {
        [System.Text.Json.Serialization.JsonPropertyName("object")]
        public string Object => "model";

        [System.Text.Json.Serialization.JsonPropertyName("owned_by")]
        public string OwnedBy => "vellum";
    }

    private delegate GenerationRequest RequestReader(JsonFields fields, RequestContext context);

    private static async Task GenerateAsync(HttpContext http, EngineHost host, IOptions<ServeOptions> options, StructuredOutputs structured, ILoggerFactory logs,
        RequestReader read, IResponseFormat format)
    {
        // vLLM's arrival time: before the body is parsed and the prompt tokenized, so TTFT and E2E include both.
        var arrival = RequestArrival.Now();
        var logger = logs.CreateLogger(typeof(OpenAiApi));
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = format.IdPrefix + RequestIds.Get(http) });
        // The request holds the engine and its models until it has answered: sleep cannot dispose them under it.
        var instance = host.TryHold();
        try
        {
            if (instance is null)
            {
                throw host.IsSleeping ? Sleeping() : NotLoaded();
            }
            var fields = await JsonFields.ReadBodyAsync(http.Request, http.RequestAborted);
            var model = fields.String("model") ?? host.ServedModelNames[0];
            var lora = host.ServedModelNames.Contains(model) ? null
                : host.Loras.Find(model)?.Lora ?? throw new ApiException(404, $"The model '{model}' does not exist.", "model", "model_not_found");
            var settings = options.Value;
            var request = read(fields, new RequestContext(RequestIds.Get(http), arrival, model, instance.Model, settings.EnablePerRequestMetrics, RequestLimits.From(settings), structured));
            request = request with { KvTransfer = KvTransferParamsReader.Read(fields, request.Prompts.Count), Lora = lora };
            if (request.KvTransfer is { DoRemotePrefill: true } && request.Sampling[0].PromptLogprobs is not null)
            {
                // The prompt's KV comes from a prefill worker: its logits were never computed here.
                throw ApiException.BadRequest("Prompt logprobs cannot be computed for a prompt whose KV is read from a prefill worker (kv_transfer_params).", "prompt_logprobs");
            }
            // Traces name what was asked for and, under an adapter, which one (metrics keep vLLM's labels: the base's name).
            System.Diagnostics.Activity.Current?.SetTag("gen_ai.request.model", model).SetTag("vellum.lora_adapter", lora?.Name);
            await GenerationResponder.RespondAsync(http, instance, request, format,
                settings.RequestTimeout is { } seconds ? TimeSpan.FromSeconds(seconds) : null, settings.EnablePerRequestMetrics, logger);
        }
        catch (ApiException e) when (!http.Response.HasStarted)
        {
            await e.ToResult().ExecuteAsync(http);
        }
        catch (EngineOverloadedException e) when (!http.Response.HasStarted)
        {
            http.Response.Headers.RetryAfter = "1";
            await new ApiException(503, e.Message, code: e.Reason).ToResult().ExecuteAsync(http);
        }
        catch (EngineStoppedException e) when (!http.Response.HasStarted)
        {
            // Refused at the door, like a request that arrives while the engine sleeps: nothing was admitted.
            await (e.Why.Code == EngineError.EngineSleeping ? Sleeping() : new ApiException(503, e.Message, code: e.Why.Code)).ToResult().ExecuteAsync(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; disposing the generation has already aborted its engine requests.
        }
        finally
        {
            instance?.Release();
        }
    }

    internal static ApiException NotLoaded() => new(503, "The model is still loading; retry shortly.", code: "model_loading");

    private static ApiException Sleeping() => new(503, "The engine is asleep (POST /sleep); wake it with POST /wake_up.", code: EngineError.EngineSleeping);
}
