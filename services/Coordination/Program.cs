using AgenticFlow.Coordination;
using AgenticFlow.Coordination.Apis;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddCoordination();

var app = builder.Build();
app.UseCloudEvents();
app.MapDefaultEndpoints();
app.MapSubscribeHandler();
app.MapTeamsApi();
app.MapTasksApi();
app.MapConsensusApi();
app.MapInternalApi(app.Services.GetRequiredService<IOptions<CoordinationOptions>>().Value.PubSub);
app.Run();
