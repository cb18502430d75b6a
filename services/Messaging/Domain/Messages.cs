using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgenticFlow.Messaging.Domain;

/// <summary>Delivery priority; higher is delivered first, FIFO within one priority.</summary>
public enum Priority { Low = 0, Normal = 1, High = 2, Critical = 3 }

public static class Priorities
{
    public static readonly IReadOnlyList<string> Names = ["critical", "high", "normal", "low"];

    public static bool TryParse(string? text, out Priority priority)
    {
        switch (text?.ToLowerInvariant())
        {
            case null or "" or "normal": priority = Priority.Normal; return true;
            case "critical": priority = Priority.Critical; return true;
            case "high": priority = Priority.High; return true;
            case "low": priority = Priority.Low; return true;
            default: priority = Priority.Normal; return false;
        }
    }

    public static string Name(this Priority priority) => priority.ToString().ToLowerInvariant();
}

public enum RecipientKind { Agent, Topic, Team }

public sealed record Recipient(RecipientKind Kind, string Id);

/// <summary>A stored message. Each agent that receives a topic message gets its own copy, so acks are per agent.</summary>
public sealed record StoredMessage
{
    public required string Id { get; init; }
    public required string RecipientKind { get; init; }
    public required string RecipientId { get; init; }
    public required Priority Priority { get; init; }
    public required JsonElement Body { get; init; }
    public string? From { get; init; }
    public string? CorrelationId { get; init; }
    public Dictionary<string, string> Attributes { get; init; } = [];
    public required DateTimeOffset EnqueuedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>queued, acked, dead-lettered, or published (a topic message that has been fanned out).</summary>
    public string Status { get; init; } = MessageStatus.Queued;

    public string? DeadLetterReason { get; init; }

    /// <summary>For a copy made by a topic subscription: the topic message it came from.</summary>
    public string? SourceMessageId { get; init; }
}

public static class MessageStatus
{
    public const string Queued = "queued";
    public const string Acked = "acked";
    public const string DeadLettered = "dead-lettered";
    public const string Published = "published";
}

/// <summary>A topic subscription: messages sent to <see cref="Topic"/> whose attributes contain every pair of
/// <see cref="Filter"/> are copied into the agent's queue.</summary>
public sealed record TopicSubscription(string Id, string AgentId, string Topic, Dictionary<string, string> Filter, DateTimeOffset CreatedAt)
{
    public bool Matches(StoredMessage message) =>
        Filter.All(f => message.Attributes.TryGetValue(f.Key, out var v) && string.Equals(v, f.Value, StringComparison.Ordinal));
}

public sealed record SubscriptionSet
{
    public List<TopicSubscription> Items { get; init; } = [];
}

/// <summary>What an idempotency key remembers: the answer the first request got.</summary>
public sealed record IdempotentResult(string MessageId, string RecipientKind, string RecipientId, string Priority);
