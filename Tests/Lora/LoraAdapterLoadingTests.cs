using System.Net;
using System.Text.Json;
using ModelBuilder;
using Tests.Support;
using Worker.Options;

namespace Tests.Lora;

/// <summary>vLLM's runtime adapter endpoints, and adapters that do not fit the base refused with what is wrong.</summary>
public class LoraAdapterLoadingTests(LoraWorkerFixture fixture) : IClassFixture<LoraWorkerFixture>
{
    private readonly HttpClient _client = fixture.Worker.CreateClient();

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, object body)
    {
        using var response = await _client.PostJsonAsync(path, body);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private static string ErrorMessage(string body) => JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString()!;

    [Fact]
    public async Task WithoutRuntimeUpdating_TheLoadAndUnloadEndpointsDoNotExist()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:Model", TinyLoraModel.Directory), ("Worker:EnableLora", "true"));
        using var client = worker.CreateClient();

        using var load = await client.PostJsonAsync("/v1/load_lora_adapter", new { lora_name = "alpha", lora_path = TinyLoraModel.Adapter("alpha") });
        using var unload = await client.PostJsonAsync("/v1/unload_lora_adapter", new { lora_name = "alpha" });

        Assert.Equal(HttpStatusCode.NotFound, load.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unload.StatusCode);
    }

    [Fact]
    public async Task TheEmbeddedModel_WithLoraEnabled_ServesItsOwnAdapters()
    {
        await using var worker = await WorkerApp.StartAsync(("Worker:Model", ""), ("Worker:EnableLora", "true"), ("Worker:DownloadDir", TestFolders.New("cache")));
        using var client = worker.CreateClient();

        var models = await (await client.GetAsync("/v1/models", TestContext.Current.CancellationToken)).JsonAsync();
        var adapters = models.GetProperty("data").EnumerateArray().Where(m => m.GetProperty("parent").ValueKind == JsonValueKind.String)
            .Select(m => m.GetProperty("id").GetString()).ToArray();
        Assert.Equal(DefaultModel.LoraAdapters, adapters);
        using var response = await client.PostJsonAsync("/v1/completions", new { model = DefaultModel.LoraAdapters[0], prompt = "Snow", max_tokens = 4 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task AnAdapterLoadedAtRuntime_IsServedAndListed_UntilUnloaded()
    {
        var (status, body) = await PostAsync("/v1/load_lora_adapter", new { lora_name = "alpha-again", lora_path = TinyLoraModel.Adapter("alpha") });
        Assert.Equal((HttpStatusCode.OK, "Success: LoRA adapter 'alpha-again' added successfully."), (status, body));

        var models = await (await _client.GetAsync("/v1/models", TestContext.Current.CancellationToken)).JsonAsync();
        Assert.Contains(models.GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetString() == "alpha-again" && m.GetProperty("parent").GetString() == WorkerApp.ModelName);
        string Text(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("text").GetString()!;
        async Task<JsonElement> GreedyAsync(string model) =>
            await (await _client.PostJsonAsync("/v1/completions", new { model, prompt = "Snow fell on the", max_tokens = 8, temperature = 0, ignore_eos = true })).JsonAsync();
        Assert.Equal(Text(await GreedyAsync("alpha")), Text(await GreedyAsync("alpha-again")));

        Assert.Equal((HttpStatusCode.OK, "Success: LoRA adapter 'alpha-again' removed successfully."),
            await PostAsync("/v1/unload_lora_adapter", new { lora_name = "alpha-again" }));
        using var gone = await _client.PostJsonAsync("/v1/completions", new { model = "alpha-again", prompt = "Snow", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("model_not_found", (await gone.JsonAsync()).GetProperty("error").GetProperty("code").GetString());
        WorkerApp.AssertHoldsNothing(await fixture.Worker.WaitForIdleEngineAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task LoadingAndUnloading_AreRefusedAsVllmRefusesThem()
    {
        var (status, body) = await PostAsync("/v1/load_lora_adapter", new { lora_name = "alpha", lora_path = TinyLoraModel.Adapter("alpha") });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("The lora adapter 'alpha' has already been loaded.", ErrorMessage(body));

        (status, body) = await PostAsync("/v1/load_lora_adapter", new { lora_name = "nameless" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("Both 'lora_name' and 'lora_path' must be provided.", ErrorMessage(body));

        (status, body) = await PostAsync("/v1/load_lora_adapter", new { lora_name = "nowhere", lora_path = "/no/such/adapter" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("adapter_config.json does not exist", ErrorMessage(body));

        (status, body) = await PostAsync("/v1/unload_lora_adapter", new { lora_name = "never-loaded" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("The lora adapter 'never-loaded' cannot be found.", ErrorMessage(body));
    }

    [Fact]
    public async Task AnAdapterForAnotherBase_IsRefused_NamingTheModelVersions()
    {
        var foreign = Path.Combine(TestModels.Built(ModelSize.Small, "alpha"), ModelFolderBuilder.LoraFolderName, "alpha");

        var (status, body) = await PostAsync("/v1/load_lora_adapter", new { lora_name = "foreign", lora_path = foreign });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("it was exported for another base model", ErrorMessage(body));
    }

    [Fact]
    public async Task AnAdapterWhoseWeightsDoNotFitTheBase_IsRefused_NamingTheParameter()
    {
        var folder = CopyOf("alpha");
        var name = LoraTargets.A("q_proj", 0);
        var version = OnnxAdapterFile.ReadHeader(File.ReadAllBytes(Path.Combine(TinyLoraModel.Adapter("alpha"), LoraAdapterBuilder.WeightsFile))).ModelVersion;
        File.WriteAllBytes(Path.Combine(folder, LoraAdapterBuilder.WeightsFile), OnnxAdapterFile.Write([new(name, [65, 8], new float[65 * 8])], version));

        var (status, body) = await PostAsync("/v1/load_lora_adapter", new { lora_name = "misshapen", lora_path = folder });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains($"its parameter '{name}' is [65, 8], which does not fit the base's [64, r]", ErrorMessage(body));
    }

    [Fact]
    public async Task AnAdapterOfTooHighARank_IsRefusedAtStartUp_AndTheWorkerStopsSayingWhy()
    {
        var errors = await FailedStart.ErrorsOfAsync(new ServeOptions
        {
            Model = TinyLoraModel.Directory,
            EnableLora = true,
            MaxLoraRank = 1,
            LoraModules = [$"alpha={TinyLoraModel.Adapter("alpha")}"],
        });

        Assert.Contains(errors, e => e.Contains("The LoRA adapter 'alpha'") && e.Contains("its rank 8 is greater than --max-lora-rank 1"));
    }

    [Fact]
    public async Task EnablingLora_OnAModelThatTakesNoAdapters_StopsTheWorkerSayingWhy()
    {
        var errors = await FailedStart.ErrorsOfAsync(new ServeOptions { Model = TinyModel.Directory, EnableLora = true });

        Assert.Contains(errors, e => e.Contains("takes no LoRA weights"));
    }

    [Theory]
    [InlineData("alpha", "write it as name=path or as JSON")]
    [InlineData("""{"name": "alpha"}""", "the adapter needs a path")]
    [InlineData("""{"name": "alpha", "path": "/x", "rank": 8}""", "unknown field \"rank\"")]
    public void AMalformedLoraModulesEntry_IsRefusedNamingIt(string entry, string why)
    {
        var error = Assert.Throws<InvalidOperationException>(() => LoraModulePath.Parse(entry));
        Assert.Contains(why, error.Message);
    }

    [Fact]
    public void VllmsJsonForm_GivesTheBaseModelName()
    {
        Assert.Equal(new LoraModulePath("alpha", "/a", "base"), LoraModulePath.Parse("""{"name": "alpha", "path": "/a", "base_model_name": "base"}"""));
        Assert.Equal(new LoraModulePath("alpha", "/a=b"), LoraModulePath.Parse("alpha=/a=b"));
    }

    private static string CopyOf(string adapter)
    {
        var folder = TestFolders.New("adapter");
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(TinyLoraModel.Adapter(adapter)))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }
        return folder;
    }
}
