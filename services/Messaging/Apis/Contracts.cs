using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticFlow.Messaging.Domain;

namespace AgenticFlow.Messaging.Apis;

public sealed record RecipientDto(string? Kind, string? Id);

public sealed record SendMessageRequest(
    RecipientDto? Recipient,
    string? Priority,
    JsonElement? Body,
    int? TtlSeconds,
    string? CorrelationId,
    string? IdempotencyKey,
    string? From,
    Dictionary<string, string>? Attributes);

public sealed record SendMessageResponse(string MessageId, string Status, string Priority, string Recipient);

public sealed record MessageView(
    string Id, string Priority, JsonElement Body, string? From, string? CorrelationId, IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset EnqueuedAt, DateTimeOffset? ExpiresAt, string Status, string Recipient, string? DeadLetterReason, string? SourceMessageId)
{
    public static MessageView Of(StoredMessage m) => new(m.Id, m.Priority.Name(), m.Body, m.From, m.CorrelationId, m.Attributes,
        m.EnqueuedAt, m.ExpiresAt, m.Status, $"{m.RecipientKind}:{m.RecipientId}", m.DeadLetterReason, m.SourceMessageId);
}

public sealed record DeliveredMessage(
    string Id, string Priority, JsonElement Body, string? From, string? CorrelationId, IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset EnqueuedAt, DateTimeOffset? ExpiresAt, int DeliveryCount, string LeaseToken, DateTimeOffset LeaseExpiresAt, string? SourceMessageId);

public sealed record ReceiveResponse(string AgentId, IReadOnlyList<DeliveredMessage> Messages);

public sealed record LeaseRequest(string? LeaseToken, int? DelaySeconds);

public sealed record DeadLetterView(string MessageId, string Reason, DateTimeOffset At, int Deliveries, MessageView? Message);

public sealed record QueueStats(string AgentId, int Depth, int Leased, int DeadLetters);

public sealed record SubscribeRequest(string? AgentId, string? Topic, Dictionary<string, string>? Filter);

public sealed record SubscriptionView(string Id, string AgentId, string Topic, IReadOnlyDictionary<string, string> Filter, DateTimeOffset CreatedAt);

public sealed record Page<T>(IReadOnlyList<T> Items, int Total, int Offset, int Limit);

/// <summary>Checks requests field by field; an empty result means valid.</summary>
public static partial class Validation
{
    public const int MaxAttributes = 32;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NameRegex();

    public static bool IsName(string? value) => value is not null && NameRegex().IsMatch(value);

    public static Dictionary<string, string[]> Check(SendMessageRequest request, int maxBodyBytes, out SendCommand? command, string? idempotencyHeader)
    {
        var errors = new Dictionary<string, string[]>();
        command = null;
        RecipientKind kind = default;
        if (request.Recipient is null)
        {
            errors["recipient"] = ["recipient is required: {\"kind\": \"agent|topic|team\", \"id\": \"...\"}"];
        }
        else
        {
            if (!Enum.TryParse(request.Recipient.Kind, ignoreCase: true, out kind) || int.TryParse(request.Recipient.Kind, out _))
            {
                errors["recipient.kind"] = ["kind must be agent, topic or team"];
            }
            if (!IsName(request.Recipient.Id))
            {
                errors["recipient.id"] = ["id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"];
            }
        }
        if (!Priorities.TryParse(request.Priority, out var priority))
        {
            errors["priority"] = [$"priority must be one of {string.Join(", ", Priorities.Names)}"];
        }
        if (request.Body is not { } body || body.ValueKind == JsonValueKind.Undefined)
        {
            errors["body"] = ["body is required (any JSON value)"];
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(body.GetRawText()) > maxBodyBytes)
        {
            errors["body"] = [$"body must be at most {maxBodyBytes} bytes of JSON"];
        }
        if (request.TtlSeconds is <= 0 or > 30 * 86_400)
        {
            errors["ttlSeconds"] = ["ttlSeconds must be between 1 and 2592000"];
        }
        var idempotencyKey = request.IdempotencyKey ?? idempotencyHeader;
        if (idempotencyKey is { Length: 0 or > 256 })
        {
            errors["idempotencyKey"] = ["idempotencyKey must be 1-256 characters"];
        }
        if (request.CorrelationId is { Length: > 256 })
        {
            errors["correlationId"] = ["correlationId must be at most 256 characters"];
        }
        if (request.From is not null && !IsName(request.From))
        {
            errors["from"] = ["from must be an agent id"];
        }
        if (request.Attributes is { Count: > MaxAttributes } || request.Attributes?.Any(a => a.Key.Length is 0 or > 64 || a.Value is null || a.Value.Length > 256) == true)
        {
            errors["attributes"] = [$"at most {MaxAttributes} attributes, names 1-64 and values up to 256 characters"];
        }
        if (errors.Count == 0)
        {
            command = new SendCommand(new Recipient(kind, request.Recipient!.Id!), priority, request.Body!.Value.Clone(), request.TtlSeconds,
                request.CorrelationId, idempotencyKey, request.From, request.Attributes ?? []);
        }
        return errors;
    }
}
