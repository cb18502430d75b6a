using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticFlow.Gateway.Routing;

namespace AgenticFlow.Gateway.A2a;

/// <summary>
/// Every active team published as an A2A agent: its agent card at <c>/a2a/teams/{teamId}/.well-known/agent-card.json</c>,
/// its JSON-RPC endpoint at <c>/a2a/teams/{teamId}</c> (send a message, get a task, stream a task's updates over SSE), and
/// an index of them at <c>/.well-known/agent-card.json</c>. All of it needs a platform credential, as the REST API does;
/// sending needs what submitting a task to the team needs.
/// </summary>
public static class A2aEndpoints
{
    public const string IndexPath = "/.well-known/agent-card.json";
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static IHostApplicationBuilder AddGatewayA2a(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<A2aTasks>();
        builder.Services.AddOptions<A2aOptions>().BindConfiguration(A2aOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    public static IEndpointRouteBuilder MapGatewayA2a(this IEndpointRouteBuilder app)
    {
        app.MapGet(IndexPath, Index).RequireAuthorization(RouteTable.Readers);
        app.MapGet("/a2a/teams/{teamId}/.well-known/agent-card.json", Card).RequireAuthorization(RouteTable.Readers);
        app.MapPost("/a2a/teams/{teamId}", Rpc).RequireAuthorization(RouteTable.Readers);
        return app;
    }

    /// <summary>The configured public address (Gateway:PublicBaseUrl), not the request's Host header: a client that
    /// forges Host must not get cards pointing elsewhere (cards are cached and shared).</summary>
    private static string Origin(HttpContext http) =>
        http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.PublicBase;

    private static async Task<IResult> Index(HttpContext http, A2aTasks tasks, CancellationToken ct)
    {
        var (status, teams) = await tasks.TeamsAsync(http, ct);
        if (status != HttpStatusCode.OK)
        {
            return Results.Json(teams, statusCode: (int)status);
        }
        var agents = new JsonArray();
        foreach (var team in teams.GetProperty("items").EnumerateArray())
        {
            var id = team.GetProperty("id").GetString()!;
            agents.Add(new JsonObject
            {
                ["name"] = team.GetProperty("name").GetString(),
                ["url"] = $"{Origin(http)}/a2a/teams/{Uri.EscapeDataString(id)}",
                ["agentCardUrl"] = $"{Origin(http)}/a2a/teams/{Uri.EscapeDataString(id)}/.well-known/agent-card.json",
            });
        }
        return Results.Json(new JsonObject { ["name"] = "AgenticFlow", ["description"] = "Teams of this platform published as A2A agents; each has its own agent card.", ["agents"] = agents });
    }

    private static async Task<IResult> Card(string teamId, HttpContext http, A2aTasks tasks, CancellationToken ct)
    {
        var (status, team) = await tasks.TeamAsync(http, teamId, ct);
        if (status != HttpStatusCode.OK)
        {
            return Results.Json(team, statusCode: (int)status);
        }
        var dialect = http.Request.Headers["A2A-Version"].ToString().StartsWith("0.", StringComparison.Ordinal) ? A2aDialect.V03 : A2aDialect.V1;
        return Results.Json(A2aCard.Of(team, $"{Origin(http)}/a2a/teams/{Uri.EscapeDataString(teamId)}", dialect));
    }

    private static async Task Rpc(string teamId, HttpContext http, A2aTasks tasks, Microsoft.Extensions.Options.IOptions<A2aOptions> options, TimeProvider time)
    {
        var ct = http.RequestAborted;
        JsonDocument request;
        try
        {
            request = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: ct);
        }
        catch (JsonException)
        {
            await WriteAsync(http, A2aProtocol.Error(null, A2aProtocol.ParseError, "Parse error: the body is not JSON"));
            return;
        }
        using (request)
        {
            var root = request.RootElement;
            JsonNode? id = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out var rawId) && rawId.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? JsonNode.Parse(rawId.GetRawText()) : null;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || version.GetString() != "2.0"
                || !root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
            {
                await WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.InvalidRequest, "Invalid request: a JSON-RPC 2.0 request object with a method is expected"));
                return;
            }
            if (!A2aProtocol.TryMethod(method.GetString()!, out var operation, out var dialect))
            {
                await WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.MethodNotFound, $"Method not found: {method.GetString()}"));
                return;
            }
            var parameters = root.TryGetProperty("params", out var p) ? p : default;
            if (parameters.ValueKind != JsonValueKind.Object)
            {
                await WriteAsync(http, A2aProtocol.Error(id, A2aProtocol.InvalidParams, "Invalid params: an object is expected"));
                return;
            }
            var exchange = new A2aExchange(http, tasks, options.Value, time, teamId, id, dialect);
            await (operation switch
            {
                A2aOperation.Send => exchange.SendAsync(parameters, stream: false),
                A2aOperation.Stream => exchange.SendAsync(parameters, stream: true),
                A2aOperation.Get => exchange.GetAsync(parameters),
                _ => exchange.CancelAsync(parameters),
            });
        }
    }

    public static async Task WriteAsync(HttpContext http, JsonObject answer)
    {
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(answer.ToJsonString(Compact), http.RequestAborted);
    }
}

public sealed class A2aOptions
{
    public const string Section = "A2a";

    /// <summary>How long a blocking send waits for its task to end before answering it as it stands.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 3600)]
    public int SendWaitSeconds { get; set; } = 60;

    /// <summary>How long a stream follows its task before it ends (the client can read the task with GetTask later).</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 86400)]
    public int StreamSeconds { get; set; } = 600;
}
