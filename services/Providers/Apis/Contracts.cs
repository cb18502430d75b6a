using System.Text.Json;
using System.Text.Json.Serialization;
using AgenticFlow.Providers.Domain;
using Microsoft.Extensions.AI;

namespace AgenticFlow.Providers.Apis;

public sealed record MessageDto(string? Role, JsonElement? Content);

public sealed record ToolDto(string? Name, string? Description, JsonElement? Parameters);

public sealed record OptionsDto(int? MaxTokens, float? Temperature, float? TopP, List<string>? Stop, string? ResponseFormat, List<ToolDto>? Tools);

public sealed record RoutingDto(string? Strategy, decimal? MaxCostUsd, int? MaxLatencyMs, List<string>? RequiredFeatures, List<string>? Providers, int? CacheTtlSeconds);

public sealed record CompleteRequest(List<MessageDto>? Messages, string? Model, string? ModelClass, OptionsDto? Options, RoutingDto? Routing, string? Caller, bool Stream);

public sealed record ToolCallDto(string Id, string Name, IDictionary<string, object?>? Arguments);

public sealed record UsageDto(long InputTokens, long OutputTokens);

public sealed record CompleteResponse(string Text, IReadOnlyList<ToolCallDto> ToolCalls, string Provider, string Model, UsageDto Usage, decimal CostUsd,
    double LatencyMs, bool Development, string? FinishReason, IReadOnlyList<string> Attempts, bool Cached)
{
    public static CompleteResponse From(CompletionResult r) => new(r.Text, r.ToolCalls.Select(c => new ToolCallDto(c.CallId, c.Name, c.Arguments)).ToList(),
        r.Provider, r.Model, new UsageDto(r.InputTokens, r.OutputTokens), r.CostUsd, Math.Round(r.LatencyMs, 2), r.Development, r.FinishReason, r.Attempts, r.Cached);
}

/// <summary>Turns an API request into a <see cref="CompletionRequest"/>, naming every field that is wrong.</summary>
public static class RequestReader
{
    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    public static Dictionary<string, string[]> Read(CompleteRequest request, int maxPromptCharacters, string caller, IReadOnlyCollection<string> knownProviders, out CompletionRequest? completion)
    {
        var errors = new Dictionary<string, string[]>();
        completion = null;
        var messages = new List<ChatMessage>();
        if (request.Messages is not { Count: > 0 })
        {
            errors["messages"] = ["at least one message is required"];
        }
        else
        {
            for (var i = 0; i < request.Messages.Count; i++)
            {
                var m = request.Messages[i];
                if (m is null)
                {
                    errors[$"messages[{i}]"] = ["a message is an object with a role and content"];
                    continue;
                }
                var text = TextOf(m.Content);
                if (m.Role is null || !Roles.Contains(m.Role))
                {
                    errors[$"messages[{i}].role"] = [$"role must be one of {string.Join(", ", Roles)}"];
                }
                else if (text is null)
                {
                    errors[$"messages[{i}].content"] = ["content must be a string or an array of text parts"];
                }
                else
                {
                    messages.Add(new ChatMessage(new ChatRole(m.Role), text));
                }
            }
            if (messages.Sum(m => m.Text?.Length ?? 0) > maxPromptCharacters)
            {
                errors["messages"] = [$"the prompt is longer than {maxPromptCharacters} characters"];
            }
        }
        var o = request.Options ?? new OptionsDto(null, null, null, null, null, null);
        if (o.MaxTokens is <= 0 or > 1_000_000) { errors["options.maxTokens"] = ["maxTokens must be between 1 and 1000000"]; }
        if (o.Temperature is < 0 or > 2) { errors["options.temperature"] = ["temperature must be between 0 and 2"]; }
        if (o.TopP is < 0 or > 1) { errors["options.topP"] = ["topP must be between 0 and 1"]; }
        if (o.ResponseFormat is not (null or "text" or "json")) { errors["options.responseFormat"] = ["responseFormat must be text or json"]; }
        if (o.Tools?.Any(t => string.IsNullOrWhiteSpace(t?.Name)) == true) { errors["options.tools"] = ["every tool needs a name"]; }
        if (o.Stop?.Any(s => s is null) == true) { errors["options.stop"] = ["stop sequences must be strings"]; }
        var routing = request.Routing ?? new RoutingDto(null, null, null, null, null, null);
        var strategy = routing.Strategy ?? "priority";
        if (!CompletionService.Strategies.Contains(strategy)) { errors["routing.strategy"] = [$"strategy must be one of {string.Join(", ", CompletionService.Strategies)}"]; }
        if (routing.MaxCostUsd is < 0) { errors["routing.maxCostUsd"] = ["maxCostUsd must not be negative"]; }
        if (routing.MaxLatencyMs is <= 0) { errors["routing.maxLatencyMs"] = ["maxLatencyMs must be positive"]; }
        if (routing.CacheTtlSeconds is < 0 or > 7 * 86_400) { errors["routing.cacheTtlSeconds"] = ["cacheTtlSeconds must be between 0 and 604800"]; }
        if (routing.Providers?.Any(p => p is null) == true) { errors["routing.providers"] = ["providers are a list of provider ids"]; }
        else if (routing.Providers?.FirstOrDefault(p => !knownProviders.Contains(p)) is { } unknown) { errors["routing.providers"] = [$"unknown provider '{unknown}'"]; }
        if (routing.RequiredFeatures?.Any(f => f is null) == true) { errors["routing.requiredFeatures"] = ["features must be strings"]; }
        var features = routing.RequiredFeatures ?? [];
        if (o.Tools is { Count: > 0 } && !features.Contains("tools")) { features = [.. features, "tools"]; }
        if (o.ResponseFormat == "json" && !features.Contains("json")) { features = [.. features, "json"]; }
        if (errors.Count > 0)
        {
            return errors;
        }
        var options = new ChatOptions
        {
            MaxOutputTokens = o.MaxTokens,
            Temperature = o.Temperature,
            TopP = o.TopP,
            StopSequences = o.Stop,
            ResponseFormat = o.ResponseFormat == "json" ? ChatResponseFormat.Json : null,
            Tools = o.Tools?.Select(t => (AITool)AIFunctionFactory.CreateDeclaration(t.Name!, t.Description ?? "", t.Parameters ?? JsonDocument.Parse("{\"type\":\"object\"}").RootElement)).ToList(),
        };
        completion = new CompletionRequest(messages, request.Model, request.ModelClass, options,
            new RoutingHints(strategy, routing.MaxCostUsd, routing.MaxLatencyMs, features, routing.Providers, routing.CacheTtlSeconds), caller);
        return errors;
    }

    /// <summary>Message content as OpenAI clients send it: a string, or an array of parts whose text parts are joined.</summary>
    /// <remarks>Any other shape (a part without text, a text that is not a string) is null: the caller's mistake, never a crash.</remarks>
    public static string? TextOf(JsonElement? content) => content switch
    {
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { ValueKind: JsonValueKind.Array } a when a.EnumerateArray().All(IsPart) =>
            string.Concat(a.EnumerateArray().Where(p => p.GetProperty("type").GetString() == "text").Select(p => p.GetProperty("text").GetString())),
        _ => null,
    };

    /// <summary>A content part: an object with a string type; a text part also has a string text.</summary>
    private static bool IsPart(JsonElement part) =>
        part.ValueKind == JsonValueKind.Object
        && part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
        && (type.GetString() != "text" || part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String);
}
