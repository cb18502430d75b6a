using AgenticFlow.Memory;
using AgenticFlow.Memory.Apis;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMemory();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapQueryApi();
app.MapGraphApi();
app.MapCacheApi();
app.MapMemoryApi();
app.Run();
