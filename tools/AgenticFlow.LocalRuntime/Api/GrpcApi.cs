using System.Text;
using AgenticFlow.LocalRuntime.Actors;
using AgenticFlow.LocalRuntime.Bindings;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.Secrets;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Tracing;
using AgenticFlow.LocalRuntime.Universal;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The <c>dapr.proto.runtime.v1.Dapr</c> gRPC service the Dapr SDKs call. The Dapr packages ship its message
/// types but no server base class, so <see cref="DaprGrpcMethods"/> binds each method by hand.
/// </summary>
/// <remarks>Each method translates its request into a call of the building block it names, as the HTTP API does.</remarks>
public sealed partial class DaprGrpcService(StateApi state, PublishApi publish, SecretsApi secrets, BindingsApi bindings,
    InvocationTargets targets, SidecarMetadata metadata, ActorApi actors)
{
    /// <summary>daprd's database attributes on the call's span: the store and the gRPC method as statement.</summary>
    private static void Describe(ServerCallContext context, string system, string store, string method)
    {
        if (context.GetHttpContext().SidecarSpan() is { } span)
        {
            SpanShape.Store(span, system, store, method);
        }
    }

    public async Task<GetStateResponse> GetState(GetStateRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "GetState");
        StateRequests.CheckKey(request.Key);
        var item = await state.GetAsync(request.StoreName, request.Key, context.CancellationToken);
        return item is null ? new GetStateResponse() : new GetStateResponse { Data = ByteString.CopyFrom(item.Value), Etag = item.ETag };
    }

    public async Task<GetBulkStateResponse> GetBulkState(GetBulkStateRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "GetBulkState");
        foreach (var key in request.Keys)
        {
            StateRequests.CheckKey(key);
        }
        var items = await state.GetBulkAsync(request.StoreName, request.Keys.ToList(), context.CancellationToken);
        var response = new GetBulkStateResponse();
        foreach (var (key, item) in items)
        {
            var bulk = new BulkStateItem { Key = key };
            if (item is not null)
            {
                bulk.Data = ByteString.CopyFrom(item.Value);
                bulk.Etag = item.ETag;
            }
            response.Items.Add(bulk);
        }
        return response;
    }

    public async Task<Empty> SaveState(SaveStateRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "SaveState");
        var items = request.States.Select(s => ToOperation(s, StateOperationKind.Upsert)).ToList();
        await state.SaveAsync(request.StoreName, items, context.CancellationToken);
        return new Empty();
    }

    public async Task<Empty> DeleteState(DeleteStateRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "DeleteState");
        var item = new Dapr.Client.Autogen.Grpc.v1.StateItem { Key = request.Key, Etag = request.Etag, Options = request.Options };
        item.Metadata.Add(request.Metadata);
        var op = ToOperation(item, StateOperationKind.Delete);
        await state.DeleteAsync(request.StoreName, [op], context.CancellationToken);
        return new Empty();
    }

    public async Task<Empty> DeleteBulkState(DeleteBulkStateRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "DeleteBulkState");
        var ops = request.States.Select(s => ToOperation(s, StateOperationKind.Delete)).ToList();
        await state.DeleteAsync(request.StoreName, ops, context.CancellationToken);
        return new Empty();
    }

    public async Task<Empty> ExecuteStateTransaction(ExecuteStateTransactionRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "ExecuteStateTransaction");
        var ops = request.Operations.Select(o => o.OperationType switch
        {
            "upsert" => ToOperation(o.Request, StateOperationKind.Upsert),
            "delete" => ToOperation(o.Request, StateOperationKind.Delete),
            var other => throw new DaprError(System.Net.HttpStatusCode.BadRequest, StatusCode.Unimplemented, "ERR_NOT_SUPPORTED_STATE_OPERATION", $"operation type {other} not supported"),
        }).ToList();
        await state.TransactionAsync(request.StoreName, ops, context.CancellationToken);
        return new Empty();
    }

    public async Task<QueryStateResponse> QueryStateAlpha1(QueryStateRequest request, ServerCallContext context)
    {
        Describe(context, "state", request.StoreName, "QueryStateAlpha1");
        var store = state.Store(request.StoreName);
        StateQuery query;
        try
        {
            query = StateQuery.Parse(request.Query);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException)
        {
            throw DaprError.Malformed($"failed to parse query: {ex.Message}");
        }
        var (results, token) = await state.QueryAsync(store, query, context.CancellationToken);
        var response = new QueryStateResponse { Token = token ?? "" };
        response.Results.AddRange(results.Select(r => new QueryStateItem { Key = r.Key, Data = ByteString.CopyFrom(r.Item.Value), Etag = r.Item.ETag }));
        return response;
    }

    public async Task<Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
    {
        if (context.GetHttpContext().SidecarSpan() is { } span) 
        {
            SpanShape.Publish(span, request.PubsubName, request.Topic);
        }
        publish.Component(request.PubsubName);
        var message = publish.BuildMessage(request.PubsubName, request.Topic, request.Data.ToByteArray(),
            string.IsNullOrEmpty(request.DataContentType) ? null : request.DataContentType, request.Metadata);
        await publish.PublishAsync(request.PubsubName, request.Topic, message, context.CancellationToken);
        return new Empty();
    }

    public async Task<BulkPublishResponse> BulkPublishEvent(BulkPublishRequest request, ServerCallContext context)
    {
        if (context.GetHttpContext().SidecarSpan() is { } span) 
        {
            SpanShape.Publish(span, request.PubsubName, request.Topic);
        }
        publish.Component(request.PubsubName);
        if (request.Entries.Select(e => e.EntryId).Distinct().Count() != request.Entries.Count || request.Entries.Any(e => string.IsNullOrEmpty(e.EntryId)))
        {
            throw DaprError.Malformed("every entry needs a unique entryId");
        }
        var prepared = request.Entries.Select(e =>
        {
            var metadata = new Dictionary<string, string>(request.Metadata);
            foreach (var (k, v) in e.Metadata)
            {
                metadata[k] = v;
            }
            return (e.EntryId, publish.BuildMessage(request.PubsubName, request.Topic, e.Event.ToByteArray(), e.ContentType, metadata));
        }).ToList();
        var failed = await publish.PublishAllAsync(request.PubsubName, request.Topic, prepared, context.CancellationToken);
        var response = new BulkPublishResponse();
        response.FailedEntries.AddRange(failed.Select(f => new BulkPublishResponseFailedEntry { EntryId = f.EntryId, Error = f.Error }));
        return response;
    }

    public Task<GetSecretResponse> GetSecret(GetSecretRequest request, ServerCallContext context)
    {
        Describe(context, "secrets", request.StoreName, "GetSecret");
        var response = new GetSecretResponse();
        response.Data.AddAll(secrets.Get(request.StoreName, request.Key));
        return Task.FromResult(response);
    }

    public Task<GetBulkSecretResponse> GetBulkSecret(GetBulkSecretRequest request, ServerCallContext context)
    {
        Describe(context, "secrets", request.StoreName, "GetBulkSecret");
        var response = new GetBulkSecretResponse();
        foreach (var (name, values) in secrets.GetBulk(request.StoreName))
        {
            var secret = new SecretResponse();
            secret.Secrets.AddAll(values);
            response.Data[name] = secret;
        }
        return Task.FromResult(response);
    }

    public async Task<InvokeBindingResponse> InvokeBinding(InvokeBindingRequest request, ServerCallContext context)
    {
        Describe(context, "bindings", request.Name, "InvokeBinding");
        var result = await bindings.InvokeAsync(request.Name, request.Operation, request.Data.ToByteArray(), request.Metadata, context.CancellationToken);
        var response = new InvokeBindingResponse { Data = ByteString.CopyFrom(result.Data) };
        response.Metadata.AddAll(result.Metadata);
        return response;
    }

    /// <summary>gRPC invocation, carried to the app over HTTP as daprd does for HTTP apps.</summary>
    public async Task<InvokeResponse> InvokeService(InvokeServiceRequest request, ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var message = request.Message ?? throw DaprError.Malformed("message is required");
        var verb = message.HttpExtension?.Verb.ToString().ToUpperInvariant() ?? "POST";
        if (verb == "NONE")
        {
            verb = "POST";
        }
        if (http.SidecarSpan() is { } server)
        {
            SpanShape.Invoke(server, request.Id, message.Method);
        }
        var (local, remote) = targets.Route(request.Id);
        // The app is called from here when it is this sidecar's, or its sidecar runs in this process.
        var appTargets = local ? targets : ColocatedSidecars.Find(remote!);
        var pathAndQuery = MethodPath.FromPlain(message.Method, message.HttpExtension?.Querystring);
        using var outgoing = new HttpRequestMessage(new HttpMethod(verb), appTargets is not null
            ? MethodPath.Target((appTargets.App?.BaseAddress ?? throw DaprError.Malformed("this app has no app port")).GetLeftPart(UriPartial.Authority), pathAndQuery)
            : MethodPath.Target($"http://127.0.0.1:{remote!.HttpPort}", PeerProtocol.InvokePrefix.TrimEnd('/') + pathAndQuery));
        var body = message.Data?.Value?.ToByteArray() ?? [];
        if (body.Length > 0 || verb is "POST" or "PUT" or "PATCH")
        {
            outgoing.Content = AppChannel.Bytes(body, string.IsNullOrEmpty(message.ContentType) ? "application/json" : message.ContentType);
        }
        foreach (var header in context.RequestHeaders.Where(h => !h.IsBinary && !h.Key.StartsWith(':') && h.Key is not ("content-type" or "te" or "grpc-timeout") && !Invocation.Dropped.Contains(h.Key)))
        {
            HeaderValues.Add(outgoing, header.Key, header.Value);
        }
        outgoing.Headers.TryAddWithoutValidation(Invocation.CallerAppIdHeader, targets.AppId);
        if (appTargets is not null)
        {
            outgoing.Headers.TryAddWithoutValidation(Invocation.CalleeAppIdHeader, appTargets.AppId);
        }
        // One CLIENT span for the call out (to the app, or to the app's sidecar), whose context the callee receives.
        var span = targets.Tracer.Start($"CallLocal/{request.Id}/{message.Method}", SpanKind.Client, SidecarTracer.Current);
        span.Tag("rpc.service", "ServiceInvocation").Tag("net.peer.name", request.Id);
        span.Propagate(outgoing);
        // The callee's sidecar runs in this process: its side of the hop is its SERVER span and its CLIENT span to the
        // app, recorded by its own tracer, as a call that crossed the wire would be (see Invocation).
        SidecarSpan? calleeServer = null, calleeClient = null;
        if (appTargets is not null && !local)
        {
            calleeServer = appTargets.Tracer.Start($"CallLocal/{appTargets.AppId}/{message.Method}", SpanKind.Server, span.Context);
            calleeServer.Tag("rpc.service", "ServiceInvocation").Tag("dapr.invoke_method", message.Method).Tag("dapr.protocol", "grpc");
            calleeClient = appTargets.Tracer.Start($"CallLocal/{appTargets.AppId}/{message.Method}", SpanKind.Client, calleeServer.Context);
            calleeClient.Tag("rpc.service", "ServiceInvocation").Tag("dapr.invoke_method", message.Method).Tag("net.peer.name", appTargets.AppId);
            calleeClient.Propagate(outgoing);
        }
        HttpResponseMessage response;
        try
        {
            if (appTargets is not null)
            {
                response = await appTargets.App!.SendAsync(outgoing, context.CancellationToken);
            }
            else
            {
                outgoing.Headers.TryAddWithoutValidation(PeerProtocol.KeyHeader, remote!.PeerKey);
                response = await targets.PeerClient().SendAsync(outgoing, context.CancellationToken);
            }
        }
        catch (HttpRequestException ex)
        {
            foreach (var failed in new[] { calleeClient, calleeServer, span })
            {
                failed?.Fail(ex.Message);
                failed?.End();
            }
            throw new DaprError(System.Net.HttpStatusCode.InternalServerError, StatusCode.Unavailable, "ERR_DIRECT_INVOKE", $"failed to invoke, id: {request.Id}, err: {ex.Message}");
        }
        calleeClient?.End((int)response.StatusCode);
        calleeServer?.End((int)response.StatusCode);
        span.End((int)response.StatusCode);
        using (response)
        {
            if (response.Headers.Contains(PeerProtocol.RefusedHeader))
            {
                targets.ForgetPeers();
                throw new DaprError(System.Net.HttpStatusCode.InternalServerError, StatusCode.Unavailable, "ERR_DIRECT_INVOKE", $"failed to invoke, id: {request.Id}, err: its sidecar was restarted; retry");
            }
            var data = await response.Content.ReadAsByteArrayAsync(context.CancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new RpcException(new Status(StatusCode.Unknown, $"app answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(data)}"));
            }
            http.Response.Headers["dapr-http-status"] = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new InvokeResponse
            {
                Data = new Any { Value = ByteString.CopyFrom(data) },
                ContentType = response.Content.Headers.ContentType?.ToString() ?? "",
            };
        }
    }

    public Task<GetMetadataResponse> GetMetadata(GetMetadataRequest request, ServerCallContext context)
    {
        var response = new GetMetadataResponse { Id = metadata.AppId, RuntimeVersion = SidecarMetadata.RuntimeVersion };
        foreach (var spec in metadata.Components)
        {
            var component = new RegisteredComponents { Name = spec.Name, Type = spec.Type, Version = spec.Version };
            component.Capabilities.AddRange(SidecarMetadata.Capabilities(spec.Type));
            response.RegisteredComponents.Add(component);
        }
        response.ExtendedMetadata.AddAll(metadata.Extended);
        foreach (var s in metadata.Subscriptions)
        {
            var subscription = new PubsubSubscription { PubsubName = s.PubSubName, Topic = s.Topic, DeadLetterTopic = s.DeadLetterTopic ?? "", Rules = new PubsubSubscriptionRules() };
            subscription.Metadata.AddAll(s.Metadata);
            subscription.Rules.Rules.AddRange(s.Rules.Select(r => new PubsubSubscriptionRule { Match = r.Match, Path = r.Path }));
            if (s.DefaultRoute is not null)
            {
                subscription.Rules.Rules.Add(new PubsubSubscriptionRule { Path = s.DefaultRoute });
            }
            response.Subscriptions.Add(subscription);
        }
        response.AppConnectionProperties = new AppConnectionProperties
        {
            Port = metadata.App.Port ?? 0,
            Protocol = "http",
            ChannelAddress = metadata.App.ChannelAddress,
        };
        return Task.FromResult(response);
    }

    public Task<Empty> SetMetadata(SetMetadataRequest request, ServerCallContext context)
    {
        metadata.SetExtended(request.Key, request.Value);
        return Task.FromResult(new Empty());
    }

    public Task<Empty> Shutdown(ShutdownRequest request, ServerCallContext context)
    {
        metadata.Shutdown();
        return Task.FromResult(new Empty());
    }

    private static StateOperation ToOperation(Dapr.Client.Autogen.Grpc.v1.StateItem item, StateOperationKind kind)
    {
        StateRequests.CheckKey(item.Key);
        var concurrency = item.Options?.Concurrency == StateOptions.Types.StateConcurrency.ConcurrencyFirstWrite ? Concurrency.FirstWrite : Concurrency.LastWrite;
        return new StateOperation(kind, item.Key, kind == StateOperationKind.Upsert ? item.Value.ToByteArray() : null,
            item.Etag?.Value is { Length: > 0 } etag ? etag : null, concurrency, StateRequests.ParseTtl(item.Metadata));
    }
}

/// <summary>Binds the Dapr gRPC methods to <see cref="DaprGrpcService"/>, with marshallers from the SDK's message parsers.</summary>
public sealed class DaprGrpcMethods : IServiceMethodProvider<DaprGrpcService>
{
    public const string ServiceName = "dapr.proto.runtime.v1.Dapr";

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<DaprGrpcService> context)
    {
        Unary<GetStateRequest, GetStateResponse>(context, "GetState", (s, r, c) => s.GetState(r, c));
        Unary<GetBulkStateRequest, GetBulkStateResponse>(context, "GetBulkState", (s, r, c) => s.GetBulkState(r, c));
        Unary<SaveStateRequest, Empty>(context, "SaveState", (s, r, c) => s.SaveState(r, c));
        Unary<DeleteStateRequest, Empty>(context, "DeleteState", (s, r, c) => s.DeleteState(r, c));
        Unary<DeleteBulkStateRequest, Empty>(context, "DeleteBulkState", (s, r, c) => s.DeleteBulkState(r, c));
        Unary<ExecuteStateTransactionRequest, Empty>(context, "ExecuteStateTransaction", (s, r, c) => s.ExecuteStateTransaction(r, c));
        Unary<QueryStateRequest, QueryStateResponse>(context, "QueryStateAlpha1", (s, r, c) => s.QueryStateAlpha1(r, c));
        Unary<PublishEventRequest, Empty>(context, "PublishEvent", (s, r, c) => s.PublishEvent(r, c));
        Unary<BulkPublishRequest, BulkPublishResponse>(context, "BulkPublishEvent", (s, r, c) => s.BulkPublishEvent(r, c));
        Unary<BulkPublishRequest, BulkPublishResponse>(context, "BulkPublishEventAlpha1", (s, r, c) => s.BulkPublishEvent(r, c));
        Unary<GetSecretRequest, GetSecretResponse>(context, "GetSecret", (s, r, c) => s.GetSecret(r, c));
        Unary<GetBulkSecretRequest, GetBulkSecretResponse>(context, "GetBulkSecret", (s, r, c) => s.GetBulkSecret(r, c));
        Unary<InvokeBindingRequest, InvokeBindingResponse>(context, "InvokeBinding", (s, r, c) => s.InvokeBinding(r, c));
        Unary<InvokeServiceRequest, InvokeResponse>(context, "InvokeService", (s, r, c) => s.InvokeService(r, c));
        Unary<GetMetadataRequest, GetMetadataResponse>(context, "GetMetadata", (s, r, c) => s.GetMetadata(r, c));
        Unary<SetMetadataRequest, Empty>(context, "SetMetadata", (s, r, c) => s.SetMetadata(r, c));
        Unary<ShutdownRequest, Empty>(context, "Shutdown", (s, r, c) => s.Shutdown(r, c));
        Unary<InvokeActorRequest, InvokeActorResponse>(context, "InvokeActor", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.InvokeActor(r, c)));
        Unary<GetActorStateRequest, GetActorStateResponse>(context, "GetActorState", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.GetActorState(r, c)));
        Unary<ExecuteActorStateTransactionRequest, Empty>(context, "ExecuteActorStateTransaction", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.ExecuteActorStateTransaction(r, c)));
        Unary<RegisterActorTimerRequest, Empty>(context, "RegisterActorTimer", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.RegisterActorTimer(r, c)));
        Unary<UnregisterActorTimerRequest, Empty>(context, "UnregisterActorTimer", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.UnregisterActorTimer(r, c)));
        Unary<RegisterActorReminderRequest, Empty>(context, "RegisterActorReminder", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.RegisterActorReminder(r, c)));
        Unary<UnregisterActorReminderRequest, Empty>(context, "UnregisterActorReminder", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.UnregisterActorReminder(r, c)));
        Unary<GetActorReminderRequest, GetActorReminderResponse>(context, "GetActorReminder", (s, r, c) => DaprGrpcService.ActorCallAsync(() => s.GetActorReminder(r, c)));
    }

    private static void Unary<TRequest, TResponse>(ServiceMethodProviderContext<DaprGrpcService> context, string name,
        Func<DaprGrpcService, TRequest, ServerCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        GrpcBinding.Unary(context, ServiceName, name, handler);
}

public static class GrpcApiExtensions
{
    public static IServiceCollection AddDaprGrpcApi(this IServiceCollection services)
    {
        services.AddGrpc(o => o.MaxReceiveMessageSize = 16 * 1024 * 1024);
        services.AddSingleton<IServiceMethodProvider<DaprGrpcService>, DaprGrpcMethods>();
        // Server reflection lets the SDK's capability probe see which Dapr methods exist.
        services.AddSingleton(new Grpc.Reflection.ReflectionV1ServiceImpl(Dapr.Client.Autogen.Grpc.v1.Dapr.Descriptor, Grpc.Reflection.V1.ServerReflection.Descriptor));
        services.AddSingleton(new Grpc.Reflection.ReflectionServiceImpl(Dapr.Client.Autogen.Grpc.v1.Dapr.Descriptor, Grpc.Reflection.V1Alpha.ServerReflection.Descriptor));
        return services;
    }
}

internal static class MapFieldExtensions
{
    public static void AddAll(this Google.Protobuf.Collections.MapField<string, string> map, IEnumerable<KeyValuePair<string, string>> values)
    {
        foreach (var (key, value) in values)
        {
            map[key] = value;
        }
    }
}
