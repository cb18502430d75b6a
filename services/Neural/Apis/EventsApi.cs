using AgenticFlow.Neural.Inference;
using AgenticFlow.ServiceDefaults;

namespace AgenticFlow.Neural.Apis;

public static class NeuralEvents
{
    /// <summary>Published after a deployment change is stored; every neural replica subscribes.</summary>
    public const string ModelDeployed = "model-deployed";
}

public sealed record ModelDeployedEvent(string ModelId, long Revision);

/// <summary>Event routes (from the sidecar only; not in the gateway's table nor the OpenAPI document).</summary>
public static class EventsApi
{
    public static RouteGroupBuilder MapNeuralEvents(this IEndpointRouteBuilder app, string pubsub)
    {
        var api = app.MapGroup("/events").ExcludeFromDescription().AddEndpointFilter(async (context, next) =>
            CallerIdentity.From(context.HttpContext.Request).FromEdge
                ? NeuralProblems.Forbidden("Event routes are for the sidecar.")
                : await next(context));
        api.MapPost("/model-deployed", ModelDeployed).WithTopic(pubsub, NeuralEvents.ModelDeployed);
        return api;
    }

    /// <summary>Reads the model's record again and loads the versions it now serves. A failure answers 500 so the
    /// sidecar delivers the event again.</summary>
    public static async Task<IResult> ModelDeployed(ModelDeployedEvent deployed, DeploymentCache deployments, InferenceService inference, CancellationToken ct)
    {
        if (await deployments.RefreshAsync(deployed.ModelId, ct) is { } model)
        {
            await inference.WarmAsync(model, ct);
        }
        return TypedResults.Ok();
    }
}
