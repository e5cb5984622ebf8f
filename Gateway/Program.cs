using Gateway.Access;
using Gateway.Proxy;
using Gateway.Routing;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWorkerProxy();
builder.Services.Configure<AccessOptions>(builder.Configuration.GetSection(AccessOptions.Section));
builder.Services.AddSingleton<FleetModels>();
builder.Services.AddSingleton<ApiKeyGate>();

var app = builder.Build();
app.UseRequestIds();
app.Use(app.Services.GetRequiredService<ApiKeyGate>().InvokeAsync);
app.MapDefaultEndpoints();
app.MapFleetModels();
app.MapRoutingLoads();
app.MapWorkerProxy();
app.Run();
