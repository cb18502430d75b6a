using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticFlow.Gateway.A2a;

/// <summary>A team as an A2A agent card: one skill per capability its members hold; the JSON-RPC interface is the
/// team's endpoint. In the 1.0 shape (<c>supportedInterfaces</c>, <c>apiKeySecurityScheme</c>), or 0.3's (<c>url</c>,
/// <c>protocolVersion</c>, <c>preferredTransport</c>) for a client that asks with <c>A2A-Version: 0.3</c>.</summary>
public static class A2aCard
{
    public static JsonObject Of(JsonElement team, string endpoint, A2aDialect dialect)
    {
        var capabilities = team.GetProperty("members").EnumerateArray()
            .SelectMany(m => m.TryGetProperty("capabilities", out var c) && c.ValueKind == JsonValueKind.Object ? c.EnumerateObject().Select(p => p.Name) : [])
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var skills = new JsonArray(capabilities.Select(c => (JsonNode)new JsonObject
        {
            ["id"] = c,
            ["name"] = c,
            ["description"] = $"Tasks needing '{c}', placed on a member of the team that holds it.",
            ["tags"] = new JsonArray(c),
        }).ToArray());
        var name = team.GetProperty("name").GetString();
        var card = new JsonObject
        {
            ["name"] = name,
            ["description"] = $"The AgenticFlow team '{name}' ({team.GetProperty("members").GetArrayLength()} agents): each message becomes a task of the team.",
        };
        if (dialect == A2aDialect.V1)
        {
            card["supportedInterfaces"] = new JsonArray(new JsonObject { ["url"] = endpoint, ["protocolBinding"] = "JSONRPC", ["protocolVersion"] = A2aProtocol.ProtocolVersion });
        }
        else
        {
            card["url"] = endpoint;
            card["preferredTransport"] = "JSONRPC";
            card["protocolVersion"] = A2aProtocol.LegacyProtocolVersion;
        }
        card["provider"] = new JsonObject { ["organization"] = "AgenticFlow", ["url"] = new Uri(new Uri(endpoint), "/").ToString() };
        card["version"] = "1.0.0";
        card["capabilities"] = new JsonObject { ["streaming"] = true, ["pushNotifications"] = false };
        if (dialect == A2aDialect.V1)
        {
            card["securitySchemes"] = new JsonObject
            {
                ["apiKey"] = new JsonObject { ["apiKeySecurityScheme"] = new JsonObject { ["location"] = "header", ["name"] = "X-Api-Key" } },
                ["bearer"] = new JsonObject { ["httpAuthSecurityScheme"] = new JsonObject { ["scheme"] = "Bearer", ["bearerFormat"] = "JWT" } },
            };
            card["securityRequirements"] = new JsonArray(
                new JsonObject { ["schemes"] = new JsonObject { ["apiKey"] = new JsonObject { ["list"] = new JsonArray() } } },
                new JsonObject { ["schemes"] = new JsonObject { ["bearer"] = new JsonObject { ["list"] = new JsonArray() } } });
        }
        else
        {
            card["securitySchemes"] = new JsonObject
            {
                ["apiKey"] = new JsonObject { ["type"] = "apiKey", ["in"] = "header", ["name"] = "X-Api-Key" },
                ["bearer"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer", ["bearerFormat"] = "JWT" },
            };
            card["security"] = new JsonArray(new JsonObject { ["apiKey"] = new JsonArray() }, new JsonObject { ["bearer"] = new JsonArray() });
        }
        card["defaultInputModes"] = new JsonArray("text/plain", "application/json");
        card["defaultOutputModes"] = new JsonArray("text/plain", "application/json");
        card["skills"] = skills;
        return card;
    }
}
