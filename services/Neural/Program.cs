using AgenticFlow.Neural;
using AgenticFlow.Neural.Apis;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddNeural();

var app = builder.Build();
var options = app.Services.GetRequiredService<IOptions<NeuralOptions>>().Value;
app.UseCloudEvents();
app.MapDefaultEndpoints();
app.MapSubscribeHandler();
app.MapModelsApi(options);
app.MapNeuralEvents(options.PubSub);
app.Run();
