using Gateway.Proxy;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWorkerProxy();

var app = builder.Build();
app.UseRequestIds();
app.MapDefaultEndpoints();
app.MapWorkerProxy();
app.Run();
