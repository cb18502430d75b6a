using Microsoft.AspNetCore.Mvc;
using AgenticFlow.Messaging.Domain;
using AgenticFlow.ServiceDefaults;
using Dapr;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Messaging.Apis;

/// <summary>Topic subscriptions of agents (<c>/api/v1/subscribe</c>) and the fan-out that feeds them.</summary>
public static class SubscriptionsApi
{
    public static RouteGroupBuilder MapSubscriptionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/subscribe").WithTags("Subscriptions");
        api.MapPost("/", Subscribe).WithName("Subscribe");
        api.MapGet("/", List).WithName("ListSubscriptions");
        api.MapGet("/{id}", Get).WithName("GetSubscription");
        api.MapDelete("/{id}", Unsubscribe).WithName("Unsubscribe");
        return api;
    }

    /// <summary>The pub/sub subscription through which topic messages reach subscribers' queues.</summary>
    public static void MapFanOut(this IEndpointRouteBuilder app, string pubsub) =>
        app.MapPost("/events/fanout", (FanOutRequest request, MessagingService messaging, CancellationToken ct) => messaging.FanOutAsync(request.MessageId, ct))
            .WithTopic(pubsub, MessagingService.FanOutTopic)
            .ExcludeFromDescription();

    public static async Task<Results<Created<SubscriptionView>, ValidationProblem, ProblemHttpResult>> Subscribe(
        SubscribeRequest request, HttpRequest http, MessagingService messaging, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (!Validation.IsName(request.AgentId)) { errors["agentId"] = ["agentId must be a valid agent id"]; }
        if (!Validation.IsName(request.Topic)) { errors["topic"] = ["topic must be 1-128 letters, digits, '.', '_' or '-'"]; }
        if (request.Filter is { Count: > Validation.MaxAttributes } || request.Filter?.Any(f => f.Key.Length == 0 || f.Value is null) == true)
        {
            errors["filter"] = ["filter is a map of attribute names to the values a message must carry"];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, type: MessagesApi.ProblemBase + "validation");
        }
        if (IsOtherAgent(http, request.AgentId!))
        {
            return MessagesApi.Forbidden("An agent may subscribe only itself.");
        }
        var subscription = await messaging.SubscribeAsync(request.AgentId!, request.Topic!, request.Filter ?? [], ct);
        return TypedResults.Created($"/api/v1/subscribe/{subscription.Id}", View(subscription));
    }

    /// <summary>Subscriptions; an agent sees only its own (viewers, operators and admins see all).</summary>
    public static async Task<Ok<Page<SubscriptionView>>> List(HttpRequest http, MessagingService messaging, CancellationToken ct, string? topic = null, string? agentId = null, int offset = 0, int limit = 50)
    {
        offset = Math.Max(0, offset);
        limit = Math.Clamp(limit, 1, 500);
        var all = await messaging.ListSubscriptionsAsync(topic, CallerIdentity.From(http).RestrictedToAgent ?? agentId, ct);
        return TypedResults.Ok(new Page<SubscriptionView>(all.Skip(offset).Take(limit).Select(View).ToList(), all.Count, offset, limit));
    }

    public static async Task<Results<Ok<SubscriptionView>, NotFound<ProblemDetails>>> Get(string id, HttpRequest http, MessagingService messaging, CancellationToken ct) =>
        (await messaging.ListSubscriptionsAsync(null, null, ct)).FirstOrDefault(s => s.Id == id && (CallerIdentity.From(http).RestrictedToAgent is not { } agent || agent == s.AgentId)) is { } s
            ? TypedResults.Ok(View(s))
            : TypedResults.NotFound(MessagesApi.NotFoundProblem($"No subscription {id}."));

    public static async Task<Results<NoContent, NotFound<ProblemDetails>, ProblemHttpResult>> Unsubscribe(string id, HttpRequest http, MessagingService messaging, CancellationToken ct)
    {
        var existing = (await messaging.ListSubscriptionsAsync(null, null, ct)).FirstOrDefault(s => s.Id == id);
        if (existing is null)
        {
            return TypedResults.NotFound(MessagesApi.NotFoundProblem($"No subscription {id}."));
        }
        if (IsOtherAgent(http, existing.AgentId))
        {
            return MessagesApi.Forbidden("An agent may remove only its own subscriptions.");
        }
        return await messaging.UnsubscribeAsync(id, ct) ? TypedResults.NoContent() : TypedResults.NotFound(MessagesApi.NotFoundProblem($"No subscription {id}."));
    }

    /// <summary>An agent acting through the gateway (even one that also holds the viewer role) acts for itself alone.</summary>
    private static bool IsOtherAgent(HttpRequest http, string agentId) => !CallerIdentity.From(http).MayActFor(agentId);

    private static SubscriptionView View(TopicSubscription s) => new(s.Id, s.AgentId, s.Topic, s.Filter, s.CreatedAt);
}
