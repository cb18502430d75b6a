using AgenticFlow.Messaging.Domain;
using AgenticFlow.Messaging.Storage;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Apis;

public sealed record SendBatchRequest(IReadOnlyList<SendMessageRequest?>? Messages);

/// <summary>One answer per message of a batch, in order: <see cref="Status"/> is what the single send would have
/// answered (202, or 429 / 404 / 503 with <see cref="Problem"/>).</summary>
public sealed record BatchSendResult(int Index, int Status, string? MessageId, string? Priority, string? Recipient, bool Replayed, ProblemDetails? Problem);

public sealed record SendBatchResponse(IReadOnlyList<BatchSendResult> Results);

public sealed record AckBatchRequest(IReadOnlyList<AckBatchItem?>? Items);

public sealed record AckBatchItem(string? Id, string? LeaseToken);

/// <summary>One answer per ack of a batch, in order: 204, 404 or 409 as the single ack would answer.</summary>
public sealed record BatchAckResult(string Id, int Status, ProblemDetails? Problem);

public sealed record AckBatchResponse(string AgentId, IReadOnlyList<BatchAckResult> Results);

/// <summary>
/// Many sends, or many acks of one queue, in one call: agents that work in batches save a round trip per message,
/// and a batch of acks is one change of the mailbox. Every item is validated like the single form first; any bad item
/// refuses the whole batch with 400 (field names carry the item's index) and nothing is stored.
/// </summary>
public static class BatchApi
{
    public const int MaxItems = 100;

    public static async Task<Results<Ok<SendBatchResponse>, ValidationProblem, ProblemHttpResult>> SendMany(
        SendBatchRequest request, HttpRequest http, MessagingService messaging, IOptions<MessagingOptions> options, ITeamDirectory teams, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var commands = new List<SendCommand>();
        if (request.Messages is not { Count: > 0 and <= MaxItems } items)
        {
            errors["messages"] = [$"messages must hold 1-{MaxItems} messages"];
        }
        else
        {
            for (var i = 0; i < items.Count; i++)
            {
                if (items[i] is not { } item)
                {
                    errors[$"messages[{i}]"] = ["a message is required"];
                    continue;
                }
                var itemErrors = Validation.Check(item, options.Value.MaxBodyBytes, out var command, idempotencyHeader: null);
                foreach (var (field, messages) in itemErrors)
                {
                    errors[$"messages[{i}].{field}"] = messages;
                }
                if (command is not null)
                {
                    commands.Add(command);
                }
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: MessagesApi.ProblemBase + "validation");
        }
        // Behind the gateway an agent sends as itself, in a batch as alone.
        var sender = CallerIdentity.From(http).RestrictedToAgent;
        if (sender is { } caller)
        {
            if (commands.Any(c => c.From is not null && c.From != caller))
            {
                return MessagesApi.Forbidden("An agent may send only as itself.");
            }
            commands = commands.Select(c => c with { From = caller }).ToList();
        }
        // One recipient's messages in their order (its FIFO follows the batch); different recipients at once.
        var results = new BatchSendResult[commands.Count];
        await Task.WhenAll(commands.Select((command, index) => (command, index)).GroupBy(c => (c.command.Recipient.Kind, c.command.Recipient.Id)).Select(async group =>
        {
            foreach (var (command, index) in group)
            {
                results[index] = await SendOneAsync(command, index, sender, messaging, options.Value, teams, ct);
            }
        }));
        return TypedResults.Ok(new SendBatchResponse(results));
    }

    private static async Task<BatchSendResult> SendOneAsync(SendCommand command, int index, string? sender, MessagingService messaging, MessagingOptions options, ITeamDirectory teams, CancellationToken ct)
    {
        var recipient = $"{command.Recipient.Kind.ToString().ToLowerInvariant()}:{command.Recipient.Id}";
        // A team as the single send checks it: one coordination knows (404), reachable (503), an agent sender a member (403).
        if (command.Recipient.Kind == RecipientKind.Team && await MessagesApi.TeamProblemAsync(command.Recipient.Id, sender, teams, ct) is { } refused)
        {
            return new BatchSendResult(index, refused.StatusCode, null, null, recipient, false, refused.ProblemDetails);
        }
        var result = await messaging.SendAsync(command, ct);
        return result.Status == SendStatus.MailboxFull
            ? new BatchSendResult(index, StatusCodes.Status429TooManyRequests, null, null, recipient, false, new ProblemDetails
            {
                Title = "Mailbox full",
                Detail = $"Agent {command.Recipient.Id} has {options.MaxQueueDepth} messages waiting; this message was not stored.",
                Status = StatusCodes.Status429TooManyRequests,
                Type = MessagesApi.ProblemBase + "mailbox-full",
            })
            : new BatchSendResult(index, StatusCodes.Status202Accepted, result.MessageId, result.Priority, recipient, result.Status == SendStatus.Duplicate, null);
    }

    public static async Task<Results<Ok<AckBatchResponse>, ValidationProblem>> AckMany(string agentId, AckBatchRequest request, MessagingService messaging, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.Items is not { Count: > 0 and <= MaxItems } items)
        {
            errors["items"] = [$"items must hold 1-{MaxItems} acks"];
            items = [];
        }
        for (var i = 0; i < items.Count; i++)
        {
            if (string.IsNullOrEmpty(items[i]?.Id))
            {
                errors[$"items[{i}].id"] = ["id of the received message is required"];
            }
            if (string.IsNullOrEmpty(items[i]?.LeaseToken))
            {
                errors[$"items[{i}].leaseToken"] = ["leaseToken from the receive is required"];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: MessagesApi.ProblemBase + "validation");
        }
        var acks = items.Select(i => new AckItem(i!.Id!, i.LeaseToken!)).ToList();
        var statuses = await messaging.AckManyAsync(agentId, acks, ct);
        return TypedResults.Ok(new AckBatchResponse(agentId, acks.Select((a, i) => Answer(a.MessageId, statuses[i])).ToList()));
    }

    private static BatchAckResult Answer(string id, AckStatus status) => status switch
    {
        AckStatus.Done => new BatchAckResult(id, StatusCodes.Status204NoContent, null),
        AckStatus.NotFound => new BatchAckResult(id, StatusCodes.Status404NotFound, MessagesApi.NotFoundProblem($"Message {id} is not in this queue (already acknowledged, or never sent here).")),
        _ => new BatchAckResult(id, StatusCodes.Status409Conflict, MessagesApi.LeaseNotHeldProblem(id)),
    };
}
