using System.Collections.Concurrent;
using AgenticFlow.LocalRuntime.Peers;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// Passes workflow calls that reach a sidecar which does not run its app's workflows on to the one that does
/// (<see cref="Workflows.WorkflowLeadership"/>), with that sidecar's peer key. Client calls and completions are unary;
/// a worker's <c>GetWorkItems</c> stream is relayed item by item, so the workers of every replica share the work.
/// </summary>
public sealed class WorkflowForwarder : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(SidecarAddress leader, string name, TRequest request, ServerCallContext context)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = new Method<TRequest, TResponse>(MethodType.Unary, WorkflowGrpcMethods.ServiceName, name, GrpcBinding.Marshaller<TRequest>(), GrpcBinding.Marshaller<TResponse>());
        return await Invoker(leader).AsyncUnaryCall(method, null, Options(leader, context), request);
    }

    public async Task ServerStreamingAsync<TRequest, TResponse>(SidecarAddress leader, string name, TRequest request, IServerStreamWriter<TResponse> writer, ServerCallContext context)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = new Method<TRequest, TResponse>(MethodType.ServerStreaming, WorkflowGrpcMethods.ServiceName, name, GrpcBinding.Marshaller<TRequest>(), GrpcBinding.Marshaller<TResponse>());
        using var call = Invoker(leader).AsyncServerStreamingCall(method, null, Options(leader, context), request);
        await foreach (var item in call.ResponseStream.ReadAllAsync(context.CancellationToken))
        {
            await writer.WriteAsync(item, context.CancellationToken);
        }
    }

    private CallInvoker Invoker(SidecarAddress leader) =>
        _channels.GetOrAdd($"{leader.Identity}@{leader.GrpcPort}", _ => GrpcChannel.ForAddress($"http://127.0.0.1:{leader.GrpcPort}")).CreateCallInvoker();

    private static CallOptions Options(SidecarAddress leader, ServerCallContext context) => new(
        headers: new Metadata { { PeerProtocol.KeyHeader, leader.PeerKey } },
        deadline: context.Deadline == DateTime.MaxValue ? null : context.Deadline,
        cancellationToken: context.CancellationToken);

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
    }
}
