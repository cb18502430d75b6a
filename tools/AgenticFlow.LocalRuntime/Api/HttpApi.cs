using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Bindings;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.Secrets;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Universal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>The Dapr HTTP building-block API (<c>/v1.0/...</c>), for apps in any language.</summary>
public static class HttpApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public static void MapDaprHttpApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1.0/healthz", (SidecarMetadata sidecar) => sidecar.IsReady
            ? Results.NoContent()
            : Results.Json(new { errorCode = "ERR_HEALTH_NOT_READY", message = "dapr is not ready" }, statusCode: 500));
        app.MapGet("/v1.0/healthz/outbound", () => Results.NoContent());

        app.MapGet("/v1.0/state/{store}/{key}", GetState);
        app.MapPost("/v1.0/state/{store}", SaveState);
        app.MapDelete("/v1.0/state/{store}/{key}", DeleteState);
        app.MapPost("/v1.0/state/{store}/bulk", GetBulkState);
        app.MapPost("/v1.0/state/{store}/transaction", Transaction);
        app.MapPost("/v1.0-alpha1/state/{store}/query", Query);
        app.MapPost("/v1.0/state/{store}/query", Query);

        app.MapPost("/v1.0/publish/{pubsub}/{**topic}", Publish);
        app.MapPost("/v1.0-alpha1/publish/bulk/{pubsub}/{**topic}", BulkPublish);
        app.MapPost("/v1.0/publish/bulk/{pubsub}/{**topic}", BulkPublish);

        app.MapGet("/v1.0/secrets/{store}/bulk", (SecretsApi secrets, string store) => Results.Json(secrets.GetBulk(store), Json));
        app.MapGet("/v1.0/secrets/{store}/{key}", (SecretsApi secrets, string store, string key) => Results.Json(secrets.Get(store, key), Json));

        app.MapMethods("/v1.0/bindings/{name}", ["POST", "PUT"], InvokeBinding);

        app.MapGet("/v1.0/metadata", (SidecarMetadata sidecar) => Results.Json(MetadataView.Build(sidecar), Json));
        app.MapPut("/v1.0/metadata/{key}", async (SidecarMetadata sidecar, string key, HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            sidecar.SetExtended(key, await reader.ReadToEndAsync());
            return Results.NoContent();
        });
        app.MapPost("/v1.0/shutdown", (SidecarMetadata sidecar) =>
        {
            sidecar.Shutdown();
            return Results.NoContent();
        });

        app.Map("/v1.0/invoke/{appId}/method/{**method}", (HttpContext context, InvocationTargets targets, string appId) => Invocation.InvokeAsync(context, targets, appId));
        app.Map(PeerProtocol.InvokePrefix + "{**method}", Invocation.FromPeerAsync);

        app.MapActorHttpApi();
    }

    private static async Task<IResult> GetState(StateApi state, string store, string key, HttpRequest request, CancellationToken ct)
    {
        StateRequests.CheckKey(key);
        StateRequests.CheckConsistency(request.Query["consistency"]);
        var item = await state.GetAsync(store, key, ct);
        if (item is null)
        {
            return Results.NoContent();
        }
        request.HttpContext.Response.Headers.ETag = item.ETag;
        return Results.Bytes(item.Value, "application/json");
    }

    private static async Task<IResult> SaveState(StateApi state, string store, HttpRequest request, CancellationToken ct)
    {
        var body = await ReadJson(request, ct);
        if (body.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be a JSON array of state items");
        }
        var items = body.EnumerateArray().Select(i => StateRequests.ReadItem(i, StateOperationKind.Upsert)).ToList();
        await state.SaveAsync(store, items, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> DeleteState(StateApi state, string store, string key, HttpRequest request, CancellationToken ct)
    {
        StateRequests.CheckKey(key);
        StateRequests.CheckConsistency(request.Query["consistency"]);
        var etag = request.Headers.IfMatch.ToString();
        var op = new StateOperation(StateOperationKind.Delete, key, null, string.IsNullOrEmpty(etag) ? null : etag.Trim('"'),
            StateRequests.ParseConcurrency(request.Query["concurrency"]));
        await state.DeleteAsync(store, [op], ct);
        return Results.NoContent();
    }

    private static async Task<IResult> GetBulkState(StateApi state, string store, HttpRequest request, CancellationToken ct)
    {
        var body = await ReadJson(request, ct);
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetField("keys", out var keysElement) || keysElement.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be {\"keys\": [...]}");
        }
        var keys = keysElement.EnumerateArray().Select(k => k.ValueKind == JsonValueKind.String ? k.GetString()! : throw DaprError.Malformed("keys must be strings")).ToList();
        keys.ForEach(StateRequests.CheckKey);
        var items = await state.GetBulkAsync(store, keys, ct);
        return Results.Json(items.Select(i => new { key = i.Key, data = i.Item is null ? null : StateRequests.AsJsonOrString(i.Item.Value), etag = i.Item?.ETag }), Json);
    }

    private static async Task<IResult> Transaction(StateApi state, string store, HttpRequest request, CancellationToken ct)
    {
        var body = await ReadJson(request, ct);
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetField("operations", out var ops) || ops.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be {\"operations\": [...]}");
        }
        var operations = new List<StateOperation>();
        foreach (var op in ops.EnumerateArray())
        {
            var kind = op.StringField("operation");
            if (!op.TryGetField("request", out var req))
            {
                throw DaprError.Malformed("each operation needs a request");
            }
            operations.Add(kind switch
            {
                "upsert" => StateRequests.ReadItem(req, StateOperationKind.Upsert),
                "delete" => StateRequests.ReadItem(req, StateOperationKind.Delete),
                _ => throw new DaprError(System.Net.HttpStatusCode.BadRequest, Grpc.Core.StatusCode.Unimplemented, "ERR_NOT_SUPPORTED_STATE_OPERATION", $"operation type {kind} not supported"),
            });
        }
        await state.TransactionAsync(store, operations, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> Query(StateApi state, string store, HttpRequest request, CancellationToken ct)
    {
        using var reader = new StreamReader(request.Body);
        var text = await reader.ReadToEndAsync(ct);
        var component = state.Store(store);
        StateQuery query;
        try
        {
            query = StateQuery.Parse(text);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException)
        {
            throw new DaprError(System.Net.HttpStatusCode.BadRequest, Grpc.Core.StatusCode.InvalidArgument, "ERR_MALFORMED_REQUEST", $"failed to parse query: {ex.Message}");
        }
        var (results, token) = await state.QueryAsync(component, query, ct);
        return Results.Json(new
        {
            results = results.Select(r => new { key = r.Key, data = StateRequests.AsJsonOrString(r.Item.Value), etag = r.Item.ETag }),
            token,
        }, Json);
    }

    private static async Task<IResult> Publish(PublishApi publish, string pubsub, string topic, HttpRequest request, CancellationToken ct)
    {
        publish.Component(pubsub);
        var data = await ReadBytes(request, ct);
        var metadata = QueryMetadata(request);
        var message = publish.BuildMessage(pubsub, topic, data, request.ContentType, metadata);
        await publish.PublishAsync(pubsub, topic, message, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> BulkPublish(PublishApi publish, string pubsub, string topic, HttpRequest request, CancellationToken ct)
    {
        publish.Component(pubsub);
        var body = await ReadJson(request, ct);
        if (body.ValueKind != JsonValueKind.Array)
        {
            throw DaprError.Malformed("the body must be a JSON array of entries");
        }
        var requestMetadata = QueryMetadata(request);
        var prepared = new List<(string EntryId, BrokerMessage Message)>();
        foreach (var entry in body.EnumerateArray())
        {
            var entryId = entry.StringField("entryId") ?? throw DaprError.Malformed("every entry needs an entryId");
            var contentType = entry.StringField("contentType") ?? "application/json";
            if (!entry.TryGetField("event", out var evt))
            {
                throw DaprError.Malformed($"entry {entryId} has no event");
            }
            var data = evt.ValueKind == JsonValueKind.String && !CloudEvents.IsJsonType(contentType)
                ? Encoding.UTF8.GetBytes(evt.GetString()!)
                : Encoding.UTF8.GetBytes(evt.GetRawText());
            var metadata = new Dictionary<string, string>(requestMetadata);
            if (entry.TryGetField("metadata", out var m) && m.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in m.EnumerateObject())
                {
                    metadata[p.Name] = p.Value.GetString() ?? "";
                }
            }
            prepared.Add((entryId, publish.BuildMessage(pubsub, topic, data, contentType, metadata)));
        }
        if (prepared.Select(p => p.EntryId).Distinct().Count() != prepared.Count)
        {
            throw DaprError.Malformed("entryId values must be unique within a request");
        }
        var failed = await publish.PublishAllAsync(pubsub, topic, prepared, ct);
        return failed.Count == 0
            ? Results.NoContent()
            : Results.Json(new { failedEntries = failed.Select(f => new { entryId = f.EntryId, error = f.Error }), errorCode = "ERR_PUBSUB_PUBLISH_MESSAGE" }, Json, statusCode: 500);
    }

    private static async Task<IResult> InvokeBinding(BindingsApi bindings, string name, HttpRequest request, CancellationToken ct)
    {
        var body = await ReadJson(request, ct);
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw DaprError.Malformed("the body must be {\"operation\": ..., \"data\": ..., \"metadata\": {...}}");
        }
        var operation = body.StringField("operation") ?? throw DaprError.Malformed("operation is required");
        byte[] data = [];
        if (body.TryGetField("data", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            data = d.ValueKind == JsonValueKind.String ? Encoding.UTF8.GetBytes(d.GetString()!) : Encoding.UTF8.GetBytes(d.GetRawText());
        }
        var metadata = body.TryGetField("metadata", out var m) && m.ValueKind == JsonValueKind.Object
            ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText())
            : [];
        var response = await bindings.InvokeAsync(name, operation, data, metadata, ct);
        foreach (var (key, value) in response.Metadata)
        {
            request.HttpContext.Response.Headers["Metadata." + key] = value;
        }
        return response.Data.Length == 0 ? Results.NoContent() : Results.Bytes(response.Data, "application/json");
    }

    private static Dictionary<string, string> QueryMetadata(HttpRequest request) => request.Query
        .Where(q => q.Key.StartsWith("metadata.", StringComparison.Ordinal))
        .ToDictionary(q => q.Key["metadata.".Length..], q => q.Value.ToString(), StringComparer.Ordinal);

    private static async Task<byte[]> ReadBytes(HttpRequest request, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }

    private static async Task<JsonElement> ReadJson(HttpRequest request, CancellationToken ct)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
            return doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw DaprError.Malformed($"the body is not valid JSON: {ex.Message}");
        }
    }
}
