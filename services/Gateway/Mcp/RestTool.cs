using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace AgenticFlow.Gateway.Mcp;

/// <summary>An MCP tool that is one gateway REST call, made as the MCP caller through <see cref="GatewaySelf"/>.
/// A refused or failed call is a tool error carrying the problem details the REST call answered.</summary>
public sealed class RestTool(RestToolSpec spec) : McpServerTool
{
    public override Tool ProtocolTool { get; } = new()
    {
        Name = spec.Name,
        Title = spec.Title,
        Description = spec.Description,
        InputSchema = JsonDocument.Parse(spec.InputSchema).RootElement.Clone(),
        Annotations = new ToolAnnotations { ReadOnlyHint = spec.ReadOnly, OpenWorldHint = false },
    };

    public override IReadOnlyList<object> Metadata { get; } = [];

    public override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
    {
        var services = request.Services ?? throw new InvalidOperationException("The MCP request has no services.");
        var http = services.GetRequiredService<IHttpContextAccessor>().HttpContext
            ?? throw new InvalidOperationException("MCP tools run inside the HTTP request that carries them (stateless transport).");
        var self = services.GetRequiredService<GatewaySelf>();
        var arguments = request.Params?.Arguments ?? new Dictionary<string, JsonElement>();

        // Control arguments are checked before the REST call, so a bad one stores nothing.
        var wait = spec.Name == ToolCatalog.SubmitTask ? WaitSeconds(arguments) : 0;
        if (!TryBuild(arguments, out var pathAndQuery, out var body, out var missing))
        {
            return Error($"'{missing}' is required.", null);
        }
        using var response = await self.SendAsync(http, spec.Method, pathAndQuery,
            body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return Refused(response.StatusCode, text);
        }
        if (spec.Name == ToolCatalog.SubmitTask)
        {
            return await TaskAwaiter.AwaitAsync(self, http, services.GetRequiredService<TimeProvider>(), arguments["teamId"].GetString()!, text, TimeSpan.FromSeconds(wait), cancellationToken);
        }
        return Success(text);
    }

    public const int MaxWaitSeconds = 300;

    /// <summary>submit_task's <c>waitSeconds</c>: an integer 0..300 as its schema says (30 when absent). Anything else is
    /// the caller's error: a JSON-RPC invalid-params error, not an exception the server answers 500 for.</summary>
    private static int WaitSeconds(IDictionary<string, JsonElement> arguments)
    {
        if (!arguments.TryGetValue("waitSeconds", out var w) || w.ValueKind == JsonValueKind.Null)
        {
            return 30;
        }
        if (!JsonArguments.TryInteger(w, 0, MaxWaitSeconds, out var seconds))
        {
            throw new McpProtocolException($"Invalid params: waitSeconds is an integer from 0 to {MaxWaitSeconds}.", McpErrorCode.InvalidParams);
        }
        return seconds;
    }

    private bool TryBuild(IDictionary<string, JsonElement> arguments, out string pathAndQuery, out JsonObject? body, out string? missing)
    {
        var path = spec.Path;
        missing = null;
        body = null;
        pathAndQuery = "";
        foreach (var name in spec.PathParameters)
        {
            if (!arguments.TryGetValue(name, out var value) || value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } segment)
            {
                missing = name;
                return false;
            }
            path = path.Replace("{" + name + "}", Uri.EscapeDataString(segment), StringComparison.Ordinal);
        }
        var query = new List<string>();
        foreach (var name in spec.Query ?? [])
        {
            if (arguments.TryGetValue(name, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
            {
                var raw = value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
                query.Add(Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(raw));
            }
        }
        pathAndQuery = query.Count == 0 ? path : path + "?" + string.Join('&', query);
        if (spec.HasBody)
        {
            body = new JsonObject();
            foreach (var (name, value) in arguments)
            {
                if (!spec.PathParameters.Contains(name) && !(spec.Query ?? []).Contains(name) && !(spec.Control ?? []).Contains(name))
                {
                    body[name] = JsonNode.Parse(value.GetRawText());
                }
            }
        }
        return true;
    }

    public static CallToolResult Success(string json)
    {
        JsonElement? structured = null;
        if (json.Length > 0)
        {
            try
            {
                var parsed = JsonDocument.Parse(json).RootElement;
                structured = parsed.ValueKind == JsonValueKind.Object ? parsed.Clone() : null;
            }
            catch (JsonException)
            {
                // A body that is not JSON is answered as text only.
            }
        }
        return new CallToolResult { Content = [new TextContentBlock { Text = json.Length > 0 ? json : "{}" }], StructuredContent = structured };
    }

    /// <summary>The REST call's refusal as a tool error. A 404 from the gateway's own fallback means no route
    /// exists: the service behind this tool is not deployed on this platform.</summary>
    private CallToolResult Refused(HttpStatusCode status, string problem)
    {
        if (status == HttpStatusCode.NotFound && problem.Contains(GatewayExtensions.ProblemBase + "not-found", StringComparison.Ordinal) && problem.Contains("No route for", StringComparison.Ordinal))
        {
            var service = spec.Path.StartsWith("/api/v1/workflows", StringComparison.Ordinal) ? ToolCatalog.WorkflowsService : "the service behind " + spec.Name;
            return Error($"Not deployed: {service} is not deployed on this platform (the gateway has no route for {spec.Method} {spec.Path}).", null);
        }
        return Error($"{spec.Method} {spec.Path} answered {(int)status}.", problem);
    }

    public static CallToolResult Error(string message, string? problem)
    {
        JsonElement? structured = null;
        if (problem is { Length: > 0 })
        {
            try
            {
                structured = JsonDocument.Parse(problem).RootElement.Clone();
            }
            catch (JsonException)
            {
                structured = null;
            }
        }
        var text = problem is { Length: > 0 } ? message + " " + problem : message;
        return new CallToolResult { IsError = true, Content = [new TextContentBlock { Text = text }], StructuredContent = structured };
    }
}
