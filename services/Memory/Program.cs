using AgenticFlow.Memory;
using AgenticFlow.Memory.Apis;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMemory();

var app = builder.Build();
app.UseCloudEvents();
app.MapDefaultEndpoints();
app.MapSubscribeHandler();
app.MapQueryApi();
app.MapGraphApi();
app.MapCacheApi();
app.MapMemoryApi();
app.MapExtractionEvents(app.Services.GetRequiredService<IOptions<MemoryOptions>>().Value.PubSub);
app.Run();
