using Microsoft.AspNetCore.Mvc;
using AgenticFlow.Messaging.Domain;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Apis;

/// <summary>Sending, receiving under a lease, acknowledging and dead letters: <c>/api/v1/messages</c>.</summary>
public static class MessagesApi
{
    public const string ProblemBase = Problems.Base;

    public static RouteGroupBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/messages").WithTags("Messages");
        api.MapPost("/", Send).WithName("SendMessage");
        api.MapPost("/batch", BatchApi.SendMany).WithName("SendMessages");
        api.MapGet("/{messageId}", Get).WithName("GetMessage");
        // Every queue route is the named agent's own: checked here as well as at the gateway.
        var queue = api.MapGroup("/queue/{agentId}").AddEndpointFilter(async (context, next) =>
            context.HttpContext.GetRouteValue("agentId") as string is var agentId && !Validation.IsName(agentId)
                ? TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["agentId"] = ["not a valid agent id"] }, type: ProblemBase + "validation")
                : CallerIdentity.From(context.HttpContext.Request).MayActFor(agentId ?? "")
                    ? await next(context)
                    : Forbidden("An agent may use only its own queue."));
        queue.MapGet("/", Receive).WithName("ReceiveMessages");
        queue.MapPost("/{messageId}/ack", Ack).WithName("AckMessage");
        queue.MapPost("/ack", BatchApi.AckMany).WithName("AckMessages");
        queue.MapPost("/{messageId}/nack", Nack).WithName("NackMessage");
        queue.MapGet("/dead-letters", DeadLetters).WithName("ListDeadLetters");
        queue.MapGet("/stats", Stats).WithName("QueueStats");
        return api;
    }

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(title: "Forbidden", detail: detail, statusCode: StatusCodes.Status403Forbidden, type: ProblemBase + "forbidden");

    public static async Task<Results<Accepted<SendMessageResponse>, ValidationProblem, ProblemHttpResult>> Send(
        SendMessageRequest request, HttpRequest http, MessagingService messaging, ITeamDirectory teams, IOptions<MessagingOptions> options, CancellationToken ct)
    {
        var errors = Validation.Check(request, options.Value.MaxBodyBytes, out var command, http.Headers["Idempotency-Key"].FirstOrDefault());
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: ProblemBase + "validation");
        }
        // Behind the gateway, an agent sends as itself: "from" defaults to its id and may not name another agent.
        var caller = CallerIdentity.From(http).RestrictedToAgent;
        if (caller is not null)
        {
            if (command!.From is not null && command.From != caller)
            {
                return Forbidden("An agent may send only as itself.");
            }
            command = command with { From = caller };
        }
        if (command!.Recipient.Kind == RecipientKind.Team && await TeamProblemAsync(command.Recipient.Id, caller, teams, ct) is { } teamProblem)
        {
            return teamProblem;
        }
        var result = await messaging.SendAsync(command, ct);
        if (result.Status == SendStatus.MailboxFull)
        {
            return TypedResults.Problem(
                title: "Mailbox full",
                detail: $"Agent {command.Recipient.Id} has {options.Value.MaxQueueDepth} messages waiting; nothing was stored.",
                statusCode: StatusCodes.Status429TooManyRequests,
                type: ProblemBase + "mailbox-full");
        }
        if (result.Status == SendStatus.Duplicate)
        {
            http.HttpContext.Response.Headers["Idempotent-Replayed"] = "true";
        }
        var recipient = $"{command.Recipient.Kind.ToString().ToLowerInvariant()}:{command.Recipient.Id}";
        return TypedResults.Accepted($"/api/v1/messages/{result.MessageId}", new SendMessageResponse(result.MessageId, "accepted", result.Priority, recipient));
    }

    /// <summary>A team recipient must be a team coordination knows (its members are resolved again at the fan-out),
    /// and an agent may address only a team it belongs to (operators, admins and services may address any); null when
    /// the send may go ahead.</summary>
    internal static async Task<ProblemHttpResult?> TeamProblemAsync(string teamId, string? agentSender, ITeamDirectory teams, CancellationToken ct)
    {
        try
        {
            var members = await teams.MembersAsync(teamId, ct);
            if (members is null)
            {
                return TypedResults.Problem(title: "Unknown team", detail: $"The coordination service knows no team {teamId}; nothing was stored.",
                    statusCode: StatusCodes.Status404NotFound, type: ProblemBase + "unknown-team");
            }
            return agentSender is not null && !members.Contains(agentSender, StringComparer.Ordinal)
                ? Forbidden($"Agent {agentSender} is not a member of team {teamId}; an agent may send only to its own team. Nothing was stored.")
                : null;
        }
        catch (HttpRequestException)
        {
            return TypedResults.Problem(title: "Team routing unavailable", detail: "The coordination service, which knows the team's members, cannot be reached; nothing was stored. Try again.",
                statusCode: StatusCodes.Status503ServiceUnavailable, type: ProblemBase + "team-routing-unavailable");
        }
    }

    /// <summary>A message, for its sender, its recipient, admins, operators and other services.</summary>
    public static async Task<Results<Ok<MessageView>, NotFound<ProblemDetails>, ProblemHttpResult>> Get(string messageId, HttpRequest http, MessagingService messaging, CancellationToken ct)
    {
        var caller = CallerIdentity.From(http);
        if (!caller.Privileged && caller.RestrictedToAgent is null)
        {
            return Forbidden("Messages are readable by their sender, their recipient, admins and operators.");
        }
        if (await messaging.GetAsync(messageId, ct) is not { } message)
        {
            return TypedResults.NotFound(NotFoundProblem($"No message {messageId}."));
        }
        if (caller.RestrictedToAgent is { } agent && message.From != agent
            && !(string.Equals(message.RecipientKind, "agent", StringComparison.OrdinalIgnoreCase) && message.RecipientId == agent))
        {
            return Forbidden("Messages are readable by their sender, their recipient, admins and operators.");
        }
        return TypedResults.Ok(MessageView.Of(message));
    }

    public static async Task<Results<Ok<ReceiveResponse>, ValidationProblem, ProblemHttpResult>> Receive(
        string agentId, HttpResponse response, MessagingService messaging, WaitingReceives waiting, IOptions<MessagingOptions> options, CancellationToken ct,
        int max = 10, int? leaseSeconds = null, int waitSeconds = 0)
    {
        var errors = new Dictionary<string, string[]>();
        if (!Validation.IsName(agentId)) { errors["agentId"] = ["not a valid agent id"]; }
        if (max is < 1 or > 100) { errors["max"] = ["max must be between 1 and 100"]; }
        if (leaseSeconds is < 1 or > 3600) { errors["leaseSeconds"] = ["leaseSeconds must be between 1 and 3600"]; }
        if (waitSeconds is < 0 or > 30) { errors["waitSeconds"] = ["waitSeconds must be between 0 and 30"]; }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: ProblemBase + "validation");
        }
        using var place = waitSeconds > 0 ? waiting.TryEnter(agentId) : null;
        if (waitSeconds > 0 && place is null)
        {
            response.Headers.RetryAfter = "1";
            return TypedResults.Problem(
                title: "Too many waiting receives",
                detail: $"Queue {agentId} already has {waiting.Limit} receives waiting for messages; receive without waitSeconds, or wait for one of them to return.",
                statusCode: StatusCodes.Status429TooManyRequests,
                type: ProblemBase + "too-many-waiting-receives");
        }
        var lease = TimeSpan.FromSeconds(leaseSeconds ?? options.Value.DefaultLeaseSeconds);
        var received = await messaging.ReceiveAsync(agentId, max, lease, TimeSpan.FromSeconds(waitSeconds), ct);
        return TypedResults.Ok(new ReceiveResponse(agentId, received.Select(r => new DeliveredMessage(
            r.Message.Id, r.Message.Priority.Name(), r.Message.Body, r.Message.From, r.Message.CorrelationId, r.Message.Attributes,
            r.Message.EnqueuedAt, r.Message.ExpiresAt, r.Lease.Entry.Deliveries, r.Lease.Token, r.Lease.Until, r.Message.SourceMessageId)).ToList()));
    }

    public static async Task<Results<NoContent, ValidationProblem, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> Ack(
        string agentId, string messageId, LeaseRequest request, MessagingService messaging, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.LeaseToken))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["leaseToken"] = ["leaseToken from the receive is required"] }, type: ProblemBase + "validation");
        }
        return Outcome(await messaging.AckAsync(agentId, messageId, request.LeaseToken, ct), messageId);
    }

    public static async Task<Results<NoContent, ValidationProblem, NotFound<ProblemDetails>, Conflict<ProblemDetails>>> Nack(
        string agentId, string messageId, LeaseRequest request, MessagingService messaging, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrEmpty(request.LeaseToken)) { errors["leaseToken"] = ["leaseToken from the receive is required"]; }
        if (request.DelaySeconds is < 0 or > 3600) { errors["delaySeconds"] = ["delaySeconds must be between 0 and 3600"]; }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: ProblemBase + "validation");
        }
        return Outcome(await messaging.NackAsync(agentId, messageId, request.LeaseToken!, TimeSpan.FromSeconds(request.DelaySeconds ?? 0), ct), messageId);
    }

    public static async Task<Ok<IReadOnlyList<DeadLetterView>>> DeadLetters(string agentId, MessagingService messaging, CancellationToken ct)
    {
        var (letters, messages) = await messaging.DeadLettersAsync(agentId, ct);
        var byId = messages.ToDictionary(m => m.Id);
        return TypedResults.Ok<IReadOnlyList<DeadLetterView>>(letters.Select(l => new DeadLetterView(l.MessageId, l.Reason, l.At, l.Deliveries,
            byId.TryGetValue(l.MessageId, out var m) ? MessageView.Of(m) : null)).ToList());
    }

    public static async Task<Ok<QueueStats>> Stats(string agentId, MessagingService messaging, CancellationToken ct)
    {
        var (depth, leased, dead) = await messaging.StatsAsync(agentId, ct);
        return TypedResults.Ok(new QueueStats(agentId, depth, leased, dead));
    }

    private static Results<NoContent, ValidationProblem, NotFound<ProblemDetails>, Conflict<ProblemDetails>> Outcome(AckStatus status, string messageId) => status switch
    {
        AckStatus.Done => TypedResults.NoContent(),
        AckStatus.NotFound => TypedResults.NotFound(NotFoundProblem($"Message {messageId} is not in this queue (already acknowledged, or never sent here).")),
        _ => TypedResults.Conflict(LeaseNotHeldProblem(messageId)),
    };

    public static ProblemDetails LeaseNotHeldProblem(string messageId) => new()
    {
        Title = "Lease not held",
        Detail = $"The lease on message {messageId} expired or belongs to another receive; receive it again.",
        Status = StatusCodes.Status409Conflict,
        Type = ProblemBase + "lease-not-held",
    };

    public static ProblemDetails NotFoundProblem(string detail) => new()
    {
        Title = "Not found",
        Detail = detail,
        Status = StatusCodes.Status404NotFound,
        Type = ProblemBase + "not-found",
    };
}
