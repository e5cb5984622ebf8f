using Microsoft.Extensions.Options;
using Worker.Hosting;
using Worker.Options;

namespace Worker.Api;

/// <summary>
/// vLLM's runtime LoRA endpoints (serving_models.py): load an adapter folder under a name, or stop serving a name. An
/// adapter is checked against the base before it is served; the answers are vLLM's.
/// </summary>
public static class LoraApi
{
    public static IEndpointRouteBuilder MapLoraApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/v1/load_lora_adapter", LoadAsync).WithName("LoadLoraAdapter").WithSummary("Serves a LoRA adapter folder under a name.");
        routes.MapPost("/v1/unload_lora_adapter", UnloadAsync).WithName("UnloadLoraAdapter").WithSummary("Stops serving a LoRA adapter.");
        return routes;
    }

    private static async Task<IResult> LoadAsync(HttpContext http, EngineHost host, IOptions<ServeOptions> options, ILoggerFactory logs)
    {
        var instance = host.TryHold();
        try
        {
            var fields = await JsonFields.ReadBodyAsync(http.Request, http.RequestAborted);
            var (name, path) = (fields.String("lora_name"), fields.String("lora_path"));
            if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(path))
            {
                throw ApiException.BadRequest("Both 'lora_name' and 'lora_path' must be provided.", string.IsNullOrEmpty(name) ? "lora_name" : "lora_path");
            }
            RequireLora(options.Value);
            if (instance is null)
            {
                throw OpenAiApi.NotLoaded();
            }
            var adapter = host.Loras.Add(new LoraModulePath(name, path), instance.Model, host.ServedModelNames, options.Value.MaxLoraRank);
            logs.CreateLogger(typeof(LoraApi)).LogInformation("Loaded new LoRA adapter: name '{Name}', path '{Path}'", name, adapter.Lora.Path);
            return Results.Text($"Success: LoRA adapter '{name}' added successfully.");
        }
        catch (ApiException e)
        {
            return e.ToResult();
        }
        catch (LoraAdapterException e)
        {
            return new ApiException(e.Status, e.Message, "lora_path").ToResult();
        }
        finally
        {
            instance?.Release();
        }
    }

    private static async Task<IResult> UnloadAsync(HttpContext http, EngineHost host, IOptions<ServeOptions> options, ILoggerFactory logs)
    {
        try
        {
            var fields = await JsonFields.ReadBodyAsync(http.Request, http.RequestAborted);
            var name = fields.String("lora_name");
            if (string.IsNullOrEmpty(name))
            {
                throw ApiException.BadRequest("'lora_name' must be provided.", "lora_name");
            }
            RequireLora(options.Value);
            var adapter = host.Loras.Remove(name);
            host.Engine?.RemoveLora(adapter.Lora.Id);
            logs.CreateLogger(typeof(LoraApi)).LogInformation("Removed LoRA adapter: name '{Name}'", name);
            return Results.Text($"Success: LoRA adapter '{name}' removed successfully.");
        }
        catch (ApiException e)
        {
            return e.ToResult();
        }
        catch (LoraAdapterException e)
        {
            return new ApiException(e.Status, e.Message, "lora_name").ToResult();
        }
    }

    private static void RequireLora(ServeOptions settings)
    {
        if (!settings.EnableLora)
        {
            throw ApiException.BadRequest("LoRA is not enabled on this worker: start it with --enable-lora.");
        }
    }
}
