using System.Text.Json;
using System.Text.Json.Serialization;
using AgenticFlow.Providers.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Apis;

public sealed record ChatCompletionRequest(
    string? Model,
    List<MessageDto>? Messages,
    [property: JsonPropertyName("max_tokens")] int? MaxTokens,
    [property: JsonPropertyName("max_completion_tokens")] int? MaxCompletionTokens,
    float? Temperature,
    [property: JsonPropertyName("top_p")] float? TopP,
    JsonElement? Stop,
    bool? Stream,
    string? User,
    [property: JsonPropertyName("response_format")] JsonElement? ResponseFormat);

/// <summary>
/// The OpenAI chat completions surface (<c>/v1/chat/completions</c>, <c>/v1/models</c>), so OpenAI SDKs and tools
/// work against the platform unchanged. The model names a model some provider serves; routing, limits, budgets and
/// costs are the same as for <c>/api/v1/providers/complete</c>. Errors use OpenAI's error shape.
/// </summary>
public static class OpenAiCompatibleApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static void MapOpenAiCompatibleApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("OpenAI-compatible");
        api.MapPost("/chat/completions", ChatCompletions);
        api.MapGet("/models", Models);
    }

    public static async Task<IResult> Models(ProviderRegistry registry, CancellationToken ct)
    {
        var models = (await registry.AllAsync(ct)).Where(p => p.Settings.Enabled)
            .SelectMany(p => p.Settings.Models.Select(m => new { id = m.Name, @object = "model", created = 0, owned_by = p.Settings.Id }))
            .DistinctBy(m => m.id).ToList();
        return Results.Json(new { @object = "list", data = models }, Json);
    }

    public static async Task<IResult> ChatCompletions(ChatCompletionRequest request, HttpContext http, CompletionService completions, ProviderRegistry registry, AgentLabels agents, IOptions<ProvidersOptions> options, CancellationToken ct)
    {
        // stop is a string or a list of strings; response_format an object whose type is a string. Other shapes are
        // the caller's mistake, answered in OpenAI's error shape.
        var stop = request.Stop switch
        {
            null or { ValueKind: JsonValueKind.Null } => (List<string>?)null,
            { ValueKind: JsonValueKind.String } s => [s.GetString()!],
            { ValueKind: JsonValueKind.Array } a when a.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String) => a.EnumerateArray().Select(x => x.GetString()!).ToList(),
            _ => null,
        };
        var badStop = stop is null && request.Stop is { ValueKind: not JsonValueKind.Null };
        var formatType = request.ResponseFormat is { ValueKind: JsonValueKind.Object } f && f.TryGetProperty("type", out var t) ? t : (JsonElement?)null;
        var badFormat = request.ResponseFormat is { ValueKind: not JsonValueKind.Null } && formatType is not { ValueKind: JsonValueKind.String };
        var format = formatType is { ValueKind: JsonValueKind.String } type && type.GetString() == "json_object" ? "json" : null;
        var known = (await registry.AllAsync(ct)).Select(p => p.Settings.Id).ToList();
        var apiRequest = new CompleteRequest(request.Messages, request.Model, null,
            new OptionsDto(request.MaxCompletionTokens ?? request.MaxTokens, request.Temperature, request.TopP, stop, format, null),
            null, request.User, request.Stream == true);
        var caller = ProvidersApi.CallerOf(http.Request, request.User);
        var errors = RequestReader.Read(apiRequest, options.Value.MaxPromptCharacters, caller, known, out var completion);
        if (badStop)
        {
            errors["stop"] = ["stop must be a string or a list of strings"];
        }
        if (badFormat)
        {
            errors["response_format"] = ["response_format must be an object with a string type"];
        }
        if (string.IsNullOrEmpty(request.Model))
        {
            errors["model"] = ["model is required"];
        }
        if (errors.Count > 0)
        {
            return Error(StatusCodes.Status400BadRequest, string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")), "invalid_request_error");
        }
        completion = completion! with { Agent = agents.Of(http.Request, caller) };
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            if (request.Stream != true)
            {
                var r = await completions.CompleteAsync(completion!, ct);
                return Results.Json(new
                {
                    id,
                    @object = "chat.completion",
                    created,
                    model = r.Model,
                    choices = new[] { new { index = 0, message = new { role = "assistant", content = r.Text }, finish_reason = r.FinishReason ?? "stop" } },
                    usage = new { prompt_tokens = r.InputTokens, completion_tokens = r.OutputTokens, total_tokens = r.InputTokens + r.OutputTokens },
                }, Json);
            }
            await using var stream = completions.StreamAsync(completion!, ct).GetAsyncEnumerator(ct);
            var more = await stream.MoveNextAsync();
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            var first = true;
            for (; more; more = await stream.MoveNextAsync())
            {
                var (update, final) = stream.Current;
                object chunk = update is not null
                    ? new { id, @object = "chat.completion.chunk", created, model = request.Model, choices = new[] { new { index = 0, delta = (object)(first ? new { role = "assistant", content = update.Text } : new { content = update.Text }), finish_reason = (string?)null } } }
                    : new
                    {
                        id, @object = "chat.completion.chunk", created, model = final!.Model,
                        choices = new[] { new { index = 0, delta = (object)new { }, finish_reason = (string?)(final.FinishReason ?? "stop") } },
                        usage = new { prompt_tokens = final.InputTokens, completion_tokens = final.OutputTokens, total_tokens = final.InputTokens + final.OutputTokens },
                    };
                first = false;
                await http.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, Json)}\n\n", ct);
                await http.Response.Body.FlushAsync(ct);
            }
            await http.Response.WriteAsync("data: [DONE]\n\n", ct);
            return Results.Empty;
        }
        catch (CompletionRefused refused) when (!http.Response.HasStarted)
        {
            if (refused.RetryAfter is { } after)
            {
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            return refused.Kind switch
            {
                RefusalKind.RateLimited => Error(429, refused.Message, "rate_limit_exceeded"),
                RefusalKind.BudgetExceeded => Error(402, refused.Message, "insufficient_quota"),
                RefusalKind.NoProvider => Error(404, $"The model '{request.Model}' does not exist or no provider serving it is enabled.", "model_not_found"),
                RefusalKind.Rejected => Error(502, refused.Message, "upstream_error"),
                _ => Error(503, refused.Message, "service_unavailable"),
            };
        }
    }

    /// <summary>A request the service cannot read gets OpenAI's error shape here too.</summary>
    public static Task WriteBadInput(HttpContext http, int status, string detail) =>
        Error(status, detail, "invalid_request_error").ExecuteAsync(http);

    private static IResult Error(int status, string message, string code) =>
        Results.Json(new { error = new { message, type = status < 500 ? "invalid_request_error" : "server_error", code } }, Json, statusCode: status);
}
