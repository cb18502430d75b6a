using System.Text;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace AgenticFlow.LocalRuntime.Tests.Actors;

/// <summary>The actor methods of the gRPC Dapr service, as SDKs that call actors over gRPC use them, through the
/// generated client of the Dapr protos, from the caller app's sidecar (so placement forwards every call).</summary>
public sealed class ActorGrpcTests
{
    [Fact]
    public async Task InvokeStateTimersAndReminders_OverGrpc()
    {
        await using var cluster = await ActorCluster.StartAsync("sqlite");
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{cluster.Caller.GrpcPort}");
        var dapr = new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel);
        var id = TestServers.NewId("grpc");

        var added = await dapr.InvokeActorAsync(new InvokeActorRequest { ActorType = "Counter", ActorId = id, Method = "Add", Data = ByteString.CopyFromUtf8("5") });
        Assert.Equal("5", added.Data.ToStringUtf8());

        var host = new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(GrpcChannel.ForAddress($"http://127.0.0.1:{cluster.Hosts[0].GrpcPort}"));
        Assert.Equal("5", (await host.GetActorStateAsync(new GetActorStateRequest { ActorType = "Counter", ActorId = id, Key = "count" })).Data.ToStringUtf8());
        var transaction = new ExecuteActorStateTransactionRequest { ActorType = "Counter", ActorId = id };
        transaction.Operations.Add(new TransactionalActorStateOperation { OperationType = "upsert", Key = "note", Value = new Any { Value = ByteString.CopyFromUtf8("{\"a\":1}") } });
        transaction.Operations.Add(new TransactionalActorStateOperation { OperationType = "delete", Key = "count" });
        await host.ExecuteActorStateTransactionAsync(transaction);
        Assert.Equal("{\"a\":1}", (await host.GetActorStateAsync(new GetActorStateRequest { ActorType = "Counter", ActorId = id, Key = "note" })).Data.ToStringUtf8());
        Assert.True((await host.GetActorStateAsync(new GetActorStateRequest { ActorType = "Counter", ActorId = id, Key = "count" })).Data.IsEmpty);

        await dapr.RegisterActorTimerAsync(new RegisterActorTimerRequest { ActorType = "Counter", ActorId = id, Name = "t", DueTime = "0s", Period = "1h", Callback = "OnTick" });
        await Eventually.True(() => ActorLog.Count(id, "timer") == 1, "the gRPC-registered timer to fire");
        await dapr.UnregisterActorTimerAsync(new UnregisterActorTimerRequest { ActorType = "Counter", ActorId = id, Name = "t" });

        await dapr.RegisterActorReminderAsync(new RegisterActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "g", DueTime = "0s", Period = "R2/PT1S", Data = ByteString.CopyFromUtf8("hello") });
        var described = await dapr.GetActorReminderAsync(new GetActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "g" });
        Assert.Equal("R2/PT1S", described.Period);
        // Bytes that are not JSON are kept base64-encoded, which the .NET SDK decodes back to "hello".
        await Eventually.True(() => ActorLog.Count(id, "reminder:g:hello") == 2, "the reminder to fire its two repetitions");
        await Eventually.True(async () =>
        {
            try
            {
                await dapr.GetActorReminderAsync(new GetActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "g" });
                return false;
            }
            catch (RpcException)
            {
                return true;
            }
        }, "the reminder to be gone after its last repetition");

        var noType = await Assert.ThrowsAsync<RpcException>(async () => await dapr.InvokeActorAsync(new InvokeActorRequest { ActorId = id, Method = "Add" }));
        Assert.Equal(StatusCode.InvalidArgument, noType.StatusCode);
        // Metadata becomes headers of the call to the app, written as they are: a CR/LF would add headers (or a request)
        // ahead of the ones the sidecar adds after it (its app token, a peer key).
        var smuggling = new InvokeActorRequest { ActorType = "Counter", ActorId = id, Method = "Add", Data = ByteString.CopyFromUtf8("1") };
        smuggling.Metadata["x-note"] = "a\r\nX-AgenticFlow-Roles: admin";
        var smuggled = await Assert.ThrowsAsync<RpcException>(async () => await dapr.InvokeActorAsync(smuggling));
        Assert.Equal(StatusCode.InvalidArgument, smuggled.StatusCode);
        var badPeriod = await Assert.ThrowsAsync<RpcException>(async () => await dapr.RegisterActorReminderAsync(new RegisterActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "bad", Period = "sometimes" }));
        Assert.Equal(StatusCode.InvalidArgument, badPeriod.StatusCode);
    }

    [Fact]
    public async Task ActorCalls_ToTheHostingSidecar_OverGrpc_RunThereWithTheStatusesTheHttpApiGives()
    {
        await using var cluster = await ActorCluster.StartAsync("sqlite");
        // The host's own sidecar: the actor is placed here, so the gRPC adapter calls the actor building block directly.
        var host = new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(GrpcChannel.ForAddress($"http://127.0.0.1:{cluster.Hosts[0].GrpcPort}"));
        var id = TestServers.NewId("grpclocal");

        Assert.Equal("3", (await host.InvokeActorAsync(new InvokeActorRequest { ActorType = "Counter", ActorId = id, Method = "Add", Data = ByteString.CopyFromUtf8("3") })).Data.ToStringUtf8());
        Assert.Equal("3", (await host.GetActorStateAsync(new GetActorStateRequest { ActorType = "Counter", ActorId = id, Key = "count" })).Data.ToStringUtf8());

        await host.RegisterActorReminderAsync(new RegisterActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "later", DueTime = "1h", Data = ByteString.CopyFromUtf8("{\"n\":1}") });
        var described = await host.GetActorReminderAsync(new GetActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "later" });
        Assert.Equal("{\"n\":1}", described.Data.Value.ToStringUtf8());
        await host.UnregisterActorReminderAsync(new UnregisterActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "later" });
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await host.GetActorReminderAsync(new GetActorReminderRequest { ActorType = "Counter", ActorId = id, Name = "later" }));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);

        // An unknown transaction operation is the caller's mistake (400 on HTTP, InvalidArgument here), and nothing is stored.
        var transaction = new ExecuteActorStateTransactionRequest { ActorType = "Counter", ActorId = id };
        transaction.Operations.Add(new TransactionalActorStateOperation { OperationType = "upsert", Key = "count", Value = new Any { Value = ByteString.CopyFromUtf8("99") } });
        transaction.Operations.Add(new TransactionalActorStateOperation { OperationType = "replace", Key = "count" });
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await host.ExecuteActorStateTransactionAsync(transaction));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal("3", (await host.GetActorStateAsync(new GetActorStateRequest { ActorType = "Counter", ActorId = id, Key = "count" })).Data.ToStringUtf8());

        // A type no app hosts: a 500 on HTTP, so Internal here, as when these calls went through the HTTP actor API.
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await host.InvokeActorAsync(new InvokeActorRequest { ActorType = "NoSuchType", ActorId = id, Method = "Add" }));
        Assert.Equal(StatusCode.Internal, unknown.StatusCode);
        Assert.Contains("no app hosts actor type NoSuchType", unknown.Status.Detail, StringComparison.Ordinal);
    }
}
