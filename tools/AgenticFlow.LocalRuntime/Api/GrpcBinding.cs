using AgenticFlow.LocalRuntime.Errors;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Api;

/// <summary>
/// Binds gRPC methods by hand around message types that ship without a server base class (the Dapr and
/// durabletask services), with marshallers from the messages' parsers. A <see cref="DaprError"/> thrown by a
/// handler becomes its gRPC status with a <c>dapr-error-code</c> trailer; <paramref name="unexpected"/> may turn
/// any other failure into one.
/// </summary>
public static class GrpcBinding
{
    public static Marshaller<T> Marshaller<T>() where T : class, IMessage<T>, new() =>
        Marshallers.Create(m => m.ToByteArray(), new MessageParser<T>(() => new T()).ParseFrom);

    public static void Unary<TService, TRequest, TResponse>(ServiceMethodProviderContext<TService> context, string serviceName, string name,
        Func<TService, TRequest, ServerCallContext, Task<TResponse>> handler, Func<Exception, DaprError>? unexpected = null)
        where TService : class
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = new Method<TRequest, TResponse>(MethodType.Unary, serviceName, name, Marshaller<TRequest>(), Marshaller<TResponse>());
        context.AddUnaryMethod(method, [], (service, request, call) => Guard(() => handler(service, request, call), unexpected));
    }

    public static void ServerStreaming<TService, TRequest, TResponse>(ServiceMethodProviderContext<TService> context, string serviceName, string name,
        Func<TService, TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler, Func<Exception, DaprError>? unexpected = null)
        where TService : class
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = new Method<TRequest, TResponse>(MethodType.ServerStreaming, serviceName, name, Marshaller<TRequest>(), Marshaller<TResponse>());
        context.AddServerStreamingMethod(method, [], (service, request, stream, call) =>
            Guard(async () =>
            {
                await handler(service, request, stream, call);
                return true;
            }, unexpected));
    }

    public static RpcException ToRpc(DaprError error) =>
        new(new Status(error.GrpcStatus, error.Message), new Metadata { { "dapr-error-code", error.ErrorCode } });

    private static async Task<T> Guard<T>(Func<Task<T>> call, Func<Exception, DaprError>? unexpected)
    {
        try
        {
            return await call();
        }
        catch (DaprError error)
        {
            throw ToRpc(error);
        }
        catch (Exception ex) when (unexpected is not null && ex is not RpcException and not OperationCanceledException)
        {
            throw ToRpc(unexpected(ex));
        }
    }
}
