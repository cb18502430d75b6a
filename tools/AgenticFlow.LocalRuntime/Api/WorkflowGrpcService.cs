using AgenticFlow.LocalRuntime.Workflows;
using Dapr.DurableTask.Protobuf;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// The durabletask <c>TaskHubSidecarService</c> that Dapr.Workflow talks to: client calls (start, get, wait, raise,
/// terminate, suspend, resume, purge, list, history) and worker calls (the <c>GetWorkItems</c> stream and the two
/// completions). <c>RerunWorkflowFromEvent</c> is not bound, so it answers Unimplemented.
/// </summary>
public sealed class WorkflowGrpcService(WorkflowBackend backend, WorkflowForwarder forwarder)
{
    public WorkflowBackend Backend => backend;

    /// <summary>Passes a call on to the replica that runs this app's workflows.</summary>
    public WorkflowForwarder Forwarder => forwarder;

    public Task<Empty> Hello(Empty request, ServerCallContext context) => Task.FromResult(new Empty());

    public async Task<CreateInstanceResponse> StartInstance(CreateInstanceRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        return new CreateInstanceResponse { InstanceId = await engine.StartInstanceAsync(request, context.CancellationToken) };
    }

    public async Task<GetInstanceResponse> GetInstance(GetInstanceRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        return Found(await engine.GetAsync(request.InstanceId, request.GetInputsAndOutputs, context.CancellationToken));
    }

    public async Task<GetInstanceResponse> WaitForInstanceStart(GetInstanceRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        return Found(await engine.WaitAsync(request.InstanceId, s => s != OrchestrationStatus.Pending, request.GetInputsAndOutputs, context.CancellationToken));
    }

    public async Task<GetInstanceResponse> WaitForInstanceCompletion(GetInstanceRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        return Found(await engine.WaitAsync(request.InstanceId, WorkflowHistory.IsTerminal, request.GetInputsAndOutputs, context.CancellationToken));
    }

    public async Task<RaiseEventResponse> RaiseEvent(RaiseEventRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.RaiseEventAsync(request.InstanceId, request.Name, request.Input, context.CancellationToken);
        return new RaiseEventResponse();
    }

    public async Task<TerminateResponse> TerminateInstance(TerminateRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.TerminateAsync(request.InstanceId, request.Output, request.Recursive, context.CancellationToken);
        return new TerminateResponse();
    }

    public async Task<SuspendResponse> SuspendInstance(SuspendRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.SuspendAsync(request.InstanceId, request.Reason, context.CancellationToken);
        return new SuspendResponse();
    }

    public async Task<ResumeResponse> ResumeInstance(ResumeRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.ResumeAsync(request.InstanceId, request.Reason, context.CancellationToken);
        return new ResumeResponse();
    }

    public async Task<PurgeInstancesResponse> PurgeInstances(PurgeInstancesRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        var deleted = request.RequestCase == PurgeInstancesRequest.RequestOneofCase.PurgeInstanceFilter
            ? await engine.PurgeAsync(request.PurgeInstanceFilter, request.Recursive, request.Force, context.CancellationToken)
            : await engine.PurgeAsync(request.InstanceId, request.Recursive, request.Force, context.CancellationToken);
        return new PurgeInstancesResponse { DeletedInstanceCount = deleted, IsComplete = true };
    }

    public async Task<ListInstanceIDsResponse> ListInstanceIDs(ListInstanceIDsRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        var (ids, next) = await engine.ListAsync(request.ContinuationToken, (int)Math.Min(request.PageSize, int.MaxValue), context.CancellationToken);
        var response = new ListInstanceIDsResponse();
        response.InstanceIds.AddRange(ids);
        if (next is not null)
        {
            response.ContinuationToken = next;
        }
        return response;
    }

    public async Task<GetInstanceHistoryResponse> GetInstanceHistory(GetInstanceHistoryRequest request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        var events = await engine.HistoryAsync(request.InstanceId, context.CancellationToken)
            ?? throw WorkflowErrors.NotFound("ERR_GET_WORKFLOW", request.InstanceId);
        var response = new GetInstanceHistoryResponse();
        response.Events.AddRange(events);
        return response;
    }

    public async Task GetWorkItems(GetWorkItemsRequest request, IServerStreamWriter<WorkItem> stream, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.ServeWorkerAsync(request, item => stream.WriteAsync(item, context.CancellationToken), context.CancellationToken);
    }

    public async Task<CompleteTaskResponse> CompleteActivityTask(ActivityResponse request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.CompleteActivityAsync(request, context.CancellationToken);
        return new CompleteTaskResponse();
    }

    public async Task<CompleteTaskResponse> CompleteOrchestratorTask(WorkflowResponse request, ServerCallContext context)
    {
        var engine = await backend.EngineAsync(context.CancellationToken);
        await engine.CompleteOrchestratorAsync(request, context.CancellationToken);
        return new CompleteTaskResponse();
    }

    private static GetInstanceResponse Found(WorkflowState? state) =>
        state is null ? new GetInstanceResponse { Exists = false } : new GetInstanceResponse { Exists = true, WorkflowState = state };
}

/// <summary>Binds <see cref="WorkflowGrpcService"/> under the service name the SDK's generated client calls.</summary>
public sealed class WorkflowGrpcMethods : IServiceMethodProvider<WorkflowGrpcService>
{
    public static readonly string ServiceName = TaskHubSidecarService.Descriptor.FullName;

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<WorkflowGrpcService> context)
    {
        Unary<Empty, Empty>(context, "Hello", (s, r, c) => s.Hello(r, c));
        Unary<CreateInstanceRequest, CreateInstanceResponse>(context, "StartInstance", (s, r, c) => s.StartInstance(r, c));
        Unary<GetInstanceRequest, GetInstanceResponse>(context, "GetInstance", (s, r, c) => s.GetInstance(r, c));
        Unary<GetInstanceRequest, GetInstanceResponse>(context, "WaitForInstanceStart", (s, r, c) => s.WaitForInstanceStart(r, c));
        Unary<GetInstanceRequest, GetInstanceResponse>(context, "WaitForInstanceCompletion", (s, r, c) => s.WaitForInstanceCompletion(r, c));
        Unary<RaiseEventRequest, RaiseEventResponse>(context, "RaiseEvent", (s, r, c) => s.RaiseEvent(r, c));
        Unary<TerminateRequest, TerminateResponse>(context, "TerminateInstance", (s, r, c) => s.TerminateInstance(r, c));
        Unary<SuspendRequest, SuspendResponse>(context, "SuspendInstance", (s, r, c) => s.SuspendInstance(r, c));
        Unary<ResumeRequest, ResumeResponse>(context, "ResumeInstance", (s, r, c) => s.ResumeInstance(r, c));
        Unary<PurgeInstancesRequest, PurgeInstancesResponse>(context, "PurgeInstances", (s, r, c) => s.PurgeInstances(r, c));
        Unary<ListInstanceIDsRequest, ListInstanceIDsResponse>(context, "ListInstanceIDs", (s, r, c) => s.ListInstanceIDs(r, c));
        Unary<GetInstanceHistoryRequest, GetInstanceHistoryResponse>(context, "GetInstanceHistory", (s, r, c) => s.GetInstanceHistory(r, c));
        Unary<ActivityResponse, CompleteTaskResponse>(context, "CompleteActivityTask", (s, r, c) => s.CompleteActivityTask(r, c));
        // Runtimes before 1.18 know only the first name; newer SDKs may call the second.
        Unary<WorkflowResponse, CompleteTaskResponse>(context, "CompleteOrchestratorTask", (s, r, c) => s.CompleteOrchestratorTask(r, c));
        Unary<WorkflowResponse, CompleteTaskResponse>(context, "CompleteWorkflowTask", (s, r, c) => s.CompleteOrchestratorTask(r, c));

        GrpcBinding.ServerStreaming<WorkflowGrpcService, GetWorkItemsRequest, WorkItem>(context, ServiceName, "GetWorkItems", (s, r, w, c) =>
            s.Backend.Leader() is { } leader ? s.Forwarder.ServerStreamingAsync(leader, "GetWorkItems", r, w, c) : s.GetWorkItems(r, w, c),
            WorkflowErrors.Backend);
    }

    private static void Unary<TRequest, TResponse>(ServiceMethodProviderContext<WorkflowGrpcService> context, string name,
        Func<WorkflowGrpcService, TRequest, ServerCallContext, Task<TResponse>> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        GrpcBinding.Unary<WorkflowGrpcService, TRequest, TResponse>(context, ServiceName, name, (s, r, c) =>
            s.Backend.Leader() is { } leader ? s.Forwarder.UnaryAsync<TRequest, TResponse>(leader, name, r, c) : handler(s, r, c),
            WorkflowErrors.Backend);
}

public static class WorkflowApiExtensions
{
    /// <summary>The durabletask gRPC service, bound by hand, and the forwarder to the replica that runs the workflows.</summary>
    public static IServiceCollection AddWorkflowApi(this IServiceCollection services)
    {
        services.AddSingleton<WorkflowForwarder>();
        services.AddSingleton<WorkflowGrpcService>();
        services.AddSingleton<IServiceMethodProvider<WorkflowGrpcService>, WorkflowGrpcMethods>();
        return services;
    }

    /// <summary>The durabletask gRPC service and the <c>/v1.0/workflows</c> HTTP API.</summary>
    public static IEndpointRouteBuilder MapWorkflowApi(this IEndpointRouteBuilder app)
    {
        app.MapGrpcService<WorkflowGrpcService>();
        app.MapWorkflowHttpApi();
        return app;
    }
}
