using AgenticFlow.Agents;
using AgenticFlow.Agents.Apis;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAgents();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapActorsHandlers();
app.MapAgentsApi();
app.MapInternalAgentsApi();
app.Run();
