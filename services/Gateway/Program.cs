using AgenticFlow.Gateway;
using AgenticFlow.Gateway.Mcp;
using AgenticFlow.Gateway.Security;
using AgenticFlow.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddGateway();
builder.AddGatewayMcp();

var app = builder.Build();
app.UseCorrelationId();
app.UsePathGuard();
app.UseRequestSizeLimit();
app.MapDefaultEndpoints(requireSidecarToken: false);
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();
app.MapGatewayMcp();
app.MapReverseProxy();
app.MapFallback((HttpContext context) => GatewayExtensions.Problem(context, StatusCodes.Status404NotFound, "Not found", $"No route for {context.Request.Method} {context.Request.Path}.", "not-found"));
app.Run();
