using AgenticFlow.Providers;
using AgenticFlow.Providers.Apis;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddProviders();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapProvidersApi();
app.MapOpenAiCompatibleApi();
app.Run();
