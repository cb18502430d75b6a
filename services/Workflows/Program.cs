using AgenticFlow.ServiceDefaults;
using AgenticFlow.Workflows;
using AgenticFlow.Workflows.Apis;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWorkflows();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapEventsApi();
app.MapDefinitionsApi();
app.MapRunsApi();
app.Run();
