using AgenticFlow.Gateway;
using AgenticFlow.Gateway.A2a;
using AgenticFlow.Gateway.Mcp;
using AgenticFlow.Gateway.Dashboard;
using AgenticFlow.Gateway.Security;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();
builder.AddGatewayMcp();
builder.AddGatewayA2a();

var app = builder.Build();
app.UseCorrelationId();
app.UsePathGuard();
app.UseRequestSizeLimit();
// The dashboard's files before routing: the fallback endpoint would otherwise claim / and static files skip matched requests.
app.UseDashboard();
app.UseRouting();
app.MapDefaultEndpoints(requireSidecarToken: false);
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.MapGatewayMcp();
app.MapGatewayA2a();
app.MapReverseProxy();
app.MapFallback((HttpContext context) => GatewayExtensions.Problem(context, StatusCodes.Status404NotFound, "Not found", $"No route for {context.Request.Method} {context.Request.Path}.", "not-found"));
app.Run();
