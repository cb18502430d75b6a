using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>Service invocation across apps, trace propagation, and the API tokens in both directions.</summary>
public sealed class InvocationAndSecurityTests
{
    public sealed record Greeting(string Text);

    [Fact]
    public async Task InvokeMethod_CrossesTwoSidecars_WithVerbQueryHeadersAndBody()
    {
        var targetId = TestServers.NewId("target");
        await using var target = await TestApp.StartAsync((web, _) =>
            web.MapPut("/greet/{name}", (string name, HttpRequest r, Greeting g) =>
                Results.Ok(new Greeting($"{g.Text}, {name}{r.Query["mark"]} via {r.Headers["x-custom"]}"))));
        using var folder = new ComponentsFolder();
        await using var targetSidecar = await TestSidecar.StartAsync(targetId, folder.Path, target.Port);
        await using var callerSidecar = await TestSidecar.StartAsync(TestServers.NewId("caller"), folder.Path);

        // The SDK's recommended path: an HttpClient whose http://{app-id}/ requests go through the sidecar.
        using var http = DaprClient.CreateInvokeHttpClient(targetId, $"http://127.0.0.1:{callerSidecar.HttpPort}");
        using var request = new HttpRequestMessage(HttpMethod.Put, "greet/ada?mark=!") { Content = JsonContent.Create(new Greeting("hello")) };
        request.Headers.Add("x-custom", "header");
        var response = await http.SendAsync(request);
        var answer = await response.Content.ReadFromJsonAsync<Greeting>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello, ada! via header", answer!.Text);
        var seen = target.Requests.Single(r => r.Path.StartsWith("/greet", StringComparison.Ordinal));
        Assert.Equal(targetId, seen.Headers["dapr-callee-app-id"]);
    }

    [Fact]
    public async Task Traceparent_ReachesTheCalledApp_WithTheCallersTraceId()
    {
        var targetId = TestServers.NewId("traced");
        await using var target = await TestApp.StartAsync((web, _) => web.MapGet("/ping", () => Results.Ok("pong")));
        using var folder = new ComponentsFolder();
        await using var targetSidecar = await TestSidecar.StartAsync(targetId, folder.Path, target.Port);
        await using var callerSidecar = await TestSidecar.StartAsync(TestServers.NewId("caller"), folder.Path);
        var traceId = ActivityTraceId.CreateRandom();
        var parent = $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01";

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1.0/invoke/{targetId}/method/ping");
        request.Headers.Add("traceparent", parent);
        var response = await callerSidecar.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = target.Requests.Single(r => r.Path == "/ping").Headers["traceparent"];
        // These sidecars have no tracing Configuration: as daprd without tracing, the caller's context reaches the app as sent
        // (with tracing on, each hop writes its own span id; see TracingTests).
        Assert.Equal(traceId.ToString(), received.Split('-')[1]);
        Assert.Equal(parent, received);
    }

    [Fact]
    public async Task InvokingAnUnknownApp_Fails_WithErrDirectInvoke()
    {
        using var folder = new ComponentsFolder();
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("lonely"), folder.Path);

        var response = await sidecar.Http.PostAsync("/v1.0/invoke/nobody-here/method/x", new StringContent("{}"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("ERR_DIRECT_INVOKE", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task DaprApiToken_IsRequiredOnHttpAndGrpc_ButNotForHealth()
    {
        using var folder = new ComponentsFolder().State("in-memory");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("locked"), folder.Path, apiToken: "s3cret");
        using var anonymousHttp = new HttpClient { BaseAddress = sidecar.Http.BaseAddress };
        using var anonymousSdk = new DaprClientBuilder().UseGrpcEndpoint($"http://127.0.0.1:{sidecar.GrpcPort}").UseHttpEndpoint($"http://127.0.0.1:{sidecar.HttpPort}").Build();

        var denied = await anonymousHttp.PostAsJsonAsync("/v1.0/state/statestore", new[] { new { key = "k", value = 1 } });
        var grpcDenied = await Assert.ThrowsAnyAsync<DaprException>(() => anonymousSdk.SaveStateAsync("statestore", "k", 1));
        var health = await anonymousHttp.GetAsync("/v1.0/healthz");
        await sidecar.Client.SaveStateAsync("statestore", "k", 2);

        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, Assert.IsType<RpcException>(grpcDenied.InnerException).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, health.StatusCode);
        Assert.Equal(2, await sidecar.Client.GetStateAsync<int>("statestore", "k"));
    }

    [Fact]
    public async Task AppApiToken_IsSentToTheApp_OnInvocationAndDelivery()
    {
        var topic = TestServers.NewId("tok");
        var delivered = new ConcurrentQueue<string>();
        await using var app = await TestApp.StartAsync((web, _) =>
        {
            web.MapGet("/who", (HttpRequest r) => Results.Ok(r.Headers["dapr-api-token"].ToString()));
            web.MapPost("/evt", (HttpRequest r) => { delivered.Enqueue(r.Headers["dapr-api-token"].ToString()); return Results.Ok(); }).WithTopic("pubsub", topic);
        });
        using var folder = new ComponentsFolder().PubSub("in-memory");
        var appId = TestServers.NewId("tokapp");
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path, app.Port, appToken: "to-the-app");

        using var http = DaprClient.CreateInvokeHttpClient(appId, $"http://127.0.0.1:{sidecar.HttpPort}");
        var seen = await http.GetFromJsonAsync<string>("who");
        await sidecar.Client.PublishEventAsync("pubsub", topic, new { x = 1 });

        Assert.Equal("to-the-app", seen);
        await Eventually.True(() => delivered.Count == 1, "the delivery");
        Assert.Equal("to-the-app", delivered.Single());
    }

    [Fact]
    public async Task PeerEndpoint_RefusesCallsWithoutThePeerKey()
    {
        await using var app = await TestApp.StartAsync((web, _) => web.MapGet("/secret", () => "should not be reached"));
        using var folder = new ComponentsFolder();
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("peer"), folder.Path, app.Port, apiToken: "t");

        using var anonymous = new HttpClient { BaseAddress = sidecar.Http.BaseAddress };
        var response = await anonymous.GetAsync("/__agenticflow/invoke/secret");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain(app.Requests, r => r.Path == "/secret");
    }

    [Fact]
    public async Task Metadata_ListsComponents_AndKeepsExtendedValues()
    {
        using var folder = new ComponentsFolder().State("in-memory").PubSub("in-memory");
        var appId = TestServers.NewId("meta");
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path);

        await sidecar.Client.SetMetadataAsync("owner", "team-a");
        var metadata = await sidecar.Client.GetMetadataAsync();

        Assert.Equal(appId, metadata.Id);
        Assert.Contains(metadata.Components, c => c.Name == "statestore" && c.Type == "state.in-memory" && c.Capabilities.Contains("ETAG"));
        Assert.Contains(metadata.Components, c => c.Name == "pubsub" && c.Type == "pubsub.in-memory");
        Assert.Equal("team-a", metadata.Extended["owner"]);
        Assert.True(await sidecar.Client.CheckHealthAsync());
        Assert.Contains("\"owner\":\"team-a\"", await sidecar.Http.GetStringAsync("/v1.0/metadata"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcReflection_ListsTheDaprServiceAndItsMethods()
    {
        using var folder = new ComponentsFolder();
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("reflect"), folder.Path);
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}");
        var client = new Grpc.Reflection.V1.ServerReflection.ServerReflectionClient(channel);

        using var call = client.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1.ServerReflectionRequest { FileContainingSymbol = "dapr.proto.runtime.v1.Dapr" });
        await call.RequestStream.CompleteAsync();
        var services = new List<string>();
        var methods = new List<string>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            services.AddRange(response.ListServicesResponse?.Service.Select(s => s.Name) ?? []);
            foreach (var file in response.FileDescriptorResponse?.FileDescriptorProto ?? [])
            {
                var descriptor = Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(file);
                methods.AddRange(descriptor.Service.Where(s => s.Name == "Dapr").SelectMany(s => s.Method.Select(m => m.Name)));
            }
        }

        Assert.Contains("dapr.proto.runtime.v1.Dapr", services);
        Assert.Contains("BulkPublishEvent", methods);
        Assert.Contains("GetState", methods);
    }
}
