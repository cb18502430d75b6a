using AgenticFlow.Monitoring;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddMonitoring();

var app = builder.Build();
app.MapDefaultEndpoints(requireSidecarToken: false);
app.UseSidecarTokenExceptZipkin();
app.MapMonitoring();
app.Run();
