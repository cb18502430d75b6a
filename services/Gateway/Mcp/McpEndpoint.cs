using AgenticFlow.Gateway.Routing;

namespace AgenticFlow.Gateway.Mcp;

/// <summary>The platform as an MCP server at <c>/mcp</c> (streamable HTTP, stateless so any gateway replica answers
/// any request). Each tool re-enters a gateway REST route as the caller, so its authorization is that route's.</summary>
public static class McpEndpoint
{
    public const string Path = "/mcp";

    public static IHostApplicationBuilder AddGatewayMcp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<GatewaySelf>();
        // No redirects (the caller's X-Api-Key would follow them to wherever they point) and no shared cookie jar.
        builder.Services.AddHttpClient(GatewaySelf.ClientName, client => client.Timeout = TimeSpan.FromMinutes(6))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        builder.Services.AddMcpServer(options =>
            {
                options.ServerInfo = new ModelContextProtocol.Protocol.Implementation { Name = "agenticflow", Version = "1.0.0" };
                options.ServerInstructions = "AgenticFlow: register and find agents, submit tasks to teams and await their results, store and query memory, send messages, start workflow runs. Every tool acts as you, with your roles.";
            })
            .WithHttpTransport(transport => transport.Stateless = true)
            .WithTools(ToolCatalog.Tools.Select(spec => new RestTool(spec)));
        return builder;
    }

    /// <summary>Any platform role may talk MCP; what each tool may do is decided by its REST route's policy.</summary>
    public static IEndpointConventionBuilder MapGatewayMcp(this IEndpointRouteBuilder app) =>
        app.MapMcp(Path).RequireAuthorization(RouteTable.Readers);
}
