using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Graph;

namespace AgenticFlow.Memory.Apis;

/// <summary>The extraction worker's intake: <c>memory.stored</c> events from pub/sub (not part of the public API).</summary>
public static class ExtractionEvents
{
    public static void MapExtractionEvents(this IEndpointRouteBuilder app, string pubsub) =>
        app.MapPost("/events/memory-stored", Handle).WithTopic(pubsub, MemoryTopics.Stored).ExcludeFromDescription();

    /// <summary>Failures surface as errors, so Dapr delivers the event again.</summary>
    public static async Task<IResult> Handle(MemoryStored stored, HttpRequest http, GraphExtractor extractor, MemoryLoad load, CancellationToken ct)
    {
        // Pub/sub delivers through the sidecar; a call that came through the gateway is not an event.
        if (AgenticFlow.ServiceDefaults.CallerIdentity.From(http).FromEdge)
        {
            return Results.NotFound();
        }
        if (stored.Extract)
        {
            await load.Ready.WaitAsync(ct);
            await extractor.ExtractAsync(stored.MemoryId, ct);
        }
        return Results.Ok();
    }
}
