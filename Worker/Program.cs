using Worker.Api;
using Worker.Engine;
using Worker.Hosting;
using ModelBuilder;
using Worker.Options;

if (args.FirstOrDefault() == BuildModelCommand.Name)
{
    return BuildModelCommand.Run(args[1..]);
}
if (args.FirstOrDefault() == BuildTokenizerCommand.Name)
{
    return BuildTokenizerCommand.Run(args[1..]);
}

var builder = WebApplication.CreateBuilder(VllmFlags.ToConfigurationArgs(args));
builder.AddServiceDefaults();
builder.AddEngine();
builder.Services.AddOpenAiApi();

var app = builder.Build();
app.UseRequestIds();
app.UseEndpointLoadMetrics();
app.UseLastResortErrors();
app.MapDefaultEndpoints();
app.MapOpenAiApi();
app.MapTokenizeApi();
if (ServerDevMode.IsEnabled(app.Configuration))
{
    app.MapSleepApi();
    app.MapPauseApi();
}
if (RuntimeLoraUpdating.IsEnabled(app.Configuration))
{
    app.MapLoraApi();
}
app.Run();
return Environment.ExitCode;
