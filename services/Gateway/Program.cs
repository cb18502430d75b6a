using AgenticFlow.Gateway;
using AgenticFlow.Gateway.Dashboard;
using AgenticFlow.Gateway.Security;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();

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
app.MapReverseProxy();
app.MapFallback((HttpContext context) => GatewayExtensions.Problem(context, StatusCodes.Status404NotFound, "Not found", $"No route for {context.Request.Method} {context.Request.Path}.", "not-found"));
app.Run();
