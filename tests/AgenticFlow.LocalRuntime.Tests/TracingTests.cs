using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using AgenticFlow.LocalRuntime.Tracing;
using Dapr;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>A Zipkin collector for the sidecars' spans: every span POSTed to <c>/api/v2/spans</c>, as JSON.</summary>
public sealed class ZipkinCollector : IAsyncDisposable
{
    private TestApp _app = null!;

    public ConcurrentQueue<JsonElement> Spans { get; } = new();
    public string Endpoint => $"http://127.0.0.1:{_app.Port}/api/v2/spans";

    public static async Task<ZipkinCollector> StartAsync()
    {
        var collector = new ZipkinCollector();
        collector._app = await TestApp.StartAsync((web, _) => web.MapPost("/api/v2/spans", async (HttpRequest request) =>
        {
            using var doc = await JsonDocument.ParseAsync(request.Body);
            foreach (var span in doc.RootElement.EnumerateArray())
            {
                collector.Spans.Enqueue(span.Clone());
            }
            return Results.Accepted();
        }));
        return collector;
    }

    public List<JsonElement> Of(string traceId) => Spans.Where(s => s.GetProperty("traceId").GetString() == traceId).ToList();

    /// <summary>A Configuration file (in <paramref name="folder"/>) with this collector as its Zipkin endpoint.</summary>
    public string Configuration(string folder, string samplingRate = "1")
    {
        var path = Path.Combine(folder, $"config-{Guid.NewGuid():N}.yml");
        File.WriteAllText(path, $"""
            apiVersion: dapr.io/v1alpha1
            kind: Configuration
            metadata:
              name: traced
            spec:
              tracing:
                samplingRate: "{samplingRate}"
                zipkin:
                  endpointAddress: "{Endpoint}"
            """);
        return path;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>The sidecars' own spans: their shape (names, kinds, attributes as daprd sets them), how they are parented
/// across sidecar and app hops, what is sampled, and that nothing is recorded with tracing off.</summary>
public sealed class TracingTests
{
    private static string Id(JsonElement span) => span.GetProperty("id").GetString()!;
    private static string? Parent(JsonElement span) => span.TryGetProperty("parentId", out var p) ? p.GetString() : null;
    private static string Kind(JsonElement span) => span.GetProperty("kind").GetString()!;
    private static string Service(JsonElement span) => span.GetProperty("localEndpoint").GetProperty("serviceName").GetString()!;
    private static string? Tag(JsonElement span, string key) => span.GetProperty("tags").TryGetProperty(key, out var v) ? v.GetString() : null;

    private static string NewParent(out string traceId, out string spanId, bool sampled = true)
    {
        traceId = ActivityTraceId.CreateRandom().ToHexString();
        spanId = ActivitySpanId.CreateRandom().ToHexString();
        return $"00-{traceId}-{spanId}-{(sampled ? "01" : "00")}";
    }

    [Fact]
    public async Task Invocation_RecordsEveryHop_ParentedFromTheCallerToTheApp()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var targetId = TestServers.NewId("callee");
        var callerId = TestServers.NewId("caller");
        await using var target = await TestApp.StartAsync((web, _) => web.MapGet("/ping", () => Results.Ok("pong")));
        using var folder = new ComponentsFolder();
        var config = zipkin.Configuration(folder.Path);
        await using var targetSidecar = await TestSidecar.StartAsync(targetId, folder.Path, target.Port, configPath: config);
        await using var callerSidecar = await TestSidecar.StartAsync(callerId, folder.Path, configPath: config);
        var parent = NewParent(out var traceId, out var callerSpan);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1.0/invoke/{targetId}/method/ping?x=1");
        request.Headers.Add("traceparent", parent);
        request.Headers.Add("tracestate", "vendor=abc");
        using var response = await callerSidecar.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await Eventually.True(() => zipkin.Of(traceId).Count >= 4, "the four sidecar spans of the call");
        var spans = zipkin.Of(traceId);
        var callerServer = Assert.Single(spans, s => Service(s) == callerId + "-sidecar" && Kind(s) == "SERVER");
        var callerClient = Assert.Single(spans, s => Service(s) == callerId + "-sidecar" && Kind(s) == "CLIENT");
        var calleeServer = Assert.Single(spans, s => Service(s) == targetId + "-sidecar" && Kind(s) == "SERVER");
        var calleeClient = Assert.Single(spans, s => Service(s) == targetId + "-sidecar" && Kind(s) == "CLIENT");
        // caller's span -> caller sidecar SERVER -> its CLIENT -> callee sidecar SERVER -> its CLIENT -> the app.
        Assert.Equal(callerSpan, Parent(callerServer));
        Assert.Equal(Id(callerServer), Parent(callerClient));
        Assert.Equal(Id(callerClient), Parent(calleeServer));
        Assert.Equal(Id(calleeServer), Parent(calleeClient));
        var received = target.Requests.Single(r => r.Path.StartsWith("/ping", StringComparison.Ordinal)).Headers;
        Assert.Equal($"00-{traceId}-{Id(calleeClient)}-01", received["traceparent"]);
        Assert.Equal("vendor=abc", received["tracestate"]);

        // daprd's names and attributes.
        Assert.All([callerServer, callerClient, calleeServer, calleeClient], s => Assert.Equal($"CallLocal/{targetId}/ping", s.GetProperty("name").GetString()));
        Assert.Equal($"GET /v1.0/invoke/{targetId}/method/ping", Tag(callerServer, "dapr.api"));
        Assert.Equal("http", Tag(callerServer, "dapr.protocol"));
        Assert.Equal("200", Tag(callerServer, "dapr.status_code"));
        Assert.Equal("ServiceInvocation", Tag(callerServer, "rpc.service"));
        Assert.Equal(targetId, Tag(callerClient, "net.peer.name"));
        Assert.Equal("ping", Tag(calleeClient, "dapr.invoke_method"));
        Assert.All(spans, s => Assert.True(s.GetProperty("duration").GetInt64() >= 1 && s.GetProperty("timestamp").GetInt64() > 0));
        Assert.All(spans, s => Assert.Null(Tag(s, "error")));
    }

    [Fact]
    public async Task InvocationOverGrpc_RecordsTheSameHops()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var targetId = TestServers.NewId("grpccallee");
        var callerId = TestServers.NewId("grpccaller");
        await using var target = await TestApp.StartAsync((web, _) => web.MapPost("/echo", () => Results.Ok("echo")));
        using var folder = new ComponentsFolder();
        var config = zipkin.Configuration(folder.Path);
        await using var targetSidecar = await TestSidecar.StartAsync(targetId, folder.Path, target.Port, configPath: config);
        await using var callerSidecar = await TestSidecar.StartAsync(callerId, folder.Path, configPath: config);

        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{callerSidecar.GrpcPort}");
        await new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel).InvokeServiceAsync(new Dapr.Client.Autogen.Grpc.v1.InvokeServiceRequest
        {
            Id = targetId,
            Message = new Dapr.Client.Autogen.Grpc.v1.InvokeRequest
            {
                Method = "echo",
                ContentType = "application/json",
                Data = new Google.Protobuf.WellKnownTypes.Any { Value = Google.Protobuf.ByteString.CopyFromUtf8("{}") },
                HttpExtension = new Dapr.Client.Autogen.Grpc.v1.HTTPExtension { Verb = Dapr.Client.Autogen.Grpc.v1.HTTPExtension.Types.Verb.Post },
            },
        });

        var received = target.Requests.Single(r => r.Path == "/echo").Headers["traceparent"];
        var traceId = received.Split('-')[1];
        await Eventually.True(() => zipkin.Of(traceId).Count >= 4, "the four sidecar spans of the gRPC call");
        var spans = zipkin.Of(traceId);
        var callerServer = Assert.Single(spans, s => Service(s) == callerId + "-sidecar" && Kind(s) == "SERVER");
        Assert.Equal($"CallLocal/{targetId}/echo", callerServer.GetProperty("name").GetString());
        Assert.Equal("grpc", Tag(callerServer, "dapr.protocol"));
        var callerClient = Assert.Single(spans, s => Service(s) == callerId + "-sidecar" && Kind(s) == "CLIENT");
        var calleeServer = Assert.Single(spans, s => Service(s) == targetId + "-sidecar" && Kind(s) == "SERVER");
        var calleeClient = Assert.Single(spans, s => Service(s) == targetId + "-sidecar" && Kind(s) == "CLIENT");
        Assert.Equal(Id(callerServer), Parent(callerClient));
        Assert.Equal(Id(callerClient), Parent(calleeServer));
        Assert.Equal(Id(calleeServer), Parent(calleeClient));
        Assert.Equal($"00-{traceId}-{Id(calleeClient)}-01", received);
    }

    [Fact]
    public async Task Invocation_ToASidecarInAnotherProcess_IsParentedAcrossThePeerHop()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var targetId = TestServers.NewId("remote");
        var callerId = TestServers.NewId("caller");
        await using var target = await TestApp.StartAsync((web, _) => web.MapPost("/work", () => Results.Ok("done")));
        using var folder = new ComponentsFolder();
        var config = zipkin.Configuration(folder.Path);
        var names = Path.Combine(folder.Path, "names");
        await using var targetSidecar = await RuntimeProcess.StartAsync(targetId, folder.Path, target.Port, TestSidecar.FreePort(), TestSidecar.FreePort(), names, config);
        await using var callerSidecar = await TestSidecar.StartAsync(callerId, folder.Path, names: new AgenticFlow.LocalRuntime.Peers.NameRegistry(names), configPath: config);
        var parent = NewParent(out var traceId, out var callerSpan);

        await Eventually.True(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1.0/invoke/{targetId}/method/work") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            request.Headers.Add("traceparent", parent);
            using var response = await callerSidecar.Http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK;
        }, "the other process's sidecar to answer", 60);

        // The first attempts may have failed before the other sidecar was up: the call that reached the app is the last one.
        // Each sidecar sends its own spans: wait for the whole chain from the app's parent up to the caller's server span.
        var received = target.Requests.Last(r => r.Path == "/work").Headers["traceparent"];
        bool ChainArrived()
        {
            var all = zipkin.Of(traceId);
            var at = all.FirstOrDefault(s => received.Contains(Id(s), StringComparison.Ordinal));
            for (var hops = 0; at.ValueKind == JsonValueKind.Object; hops++)
            {
                if (Parent(at) == callerSpan)
                {
                    return hops == 3;
                }
                at = all.FirstOrDefault(s => Id(s) == Parent(at));
            }
            return false;
        }
        await Eventually.True(ChainArrived, "both sidecars' spans of the call that reached the app");
        var spans = zipkin.Of(traceId);
        var calleeClient = Assert.Single(spans, s => Service(s) == targetId + "-sidecar" && Kind(s) == "CLIENT" && received.Contains(Id(s), StringComparison.Ordinal));
        var calleeServer = Assert.Single(spans, s => Id(s) == Parent(calleeClient));
        Assert.Equal(targetId + "-sidecar", Service(calleeServer));
        Assert.Equal("SERVER", Kind(calleeServer));
        Assert.Equal($"CallLocal/{targetId}/work", calleeServer.GetProperty("name").GetString());
        Assert.Equal("work", Tag(calleeServer, "dapr.invoke_method"));
        var callerClient = Assert.Single(spans, s => Id(s) == Parent(calleeServer));
        Assert.Equal(callerId + "-sidecar", Service(callerClient));
        Assert.Equal("CLIENT", Kind(callerClient));
        var callerServer = Assert.Single(spans, s => Id(s) == Parent(callerClient));
        Assert.Equal("SERVER", Kind(callerServer));
        Assert.Equal(callerSpan, Parent(callerServer));
    }

    [Fact]
    public async Task StateCalls_OverHttpAndGrpc_AreServerSpans_WithDatabaseAttributes()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        using var folder = new ComponentsFolder().State("in-memory");
        var appId = TestServers.NewId("stateful");
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path, configPath: zipkin.Configuration(folder.Path));
        var parent = NewParent(out var traceId, out var appSpan);

        using var save = new HttpRequestMessage(HttpMethod.Post, "/v1.0/state/statestore") { Content = new StringContent("""[{"key":"k1","value":{"n":1}}]""", Encoding.UTF8, "application/json") };
        save.Headers.Add("traceparent", parent);
        using (var saved = await sidecar.Http.SendAsync(save))
        {
            Assert.Equal(HttpStatusCode.NoContent, saved.StatusCode);
        }
        await sidecar.Client.SaveStateAsync("statestore", "k2", new { n = 2 });

        await Eventually.True(() => zipkin.Spans.Any(s => s.GetProperty("name").GetString() == "/dapr.proto.runtime.v1.Dapr/SaveState" && Service(s) == appId + "-sidecar")
            && zipkin.Of(traceId).Count == 1, "the HTTP and the gRPC state spans");
        var http = Assert.Single(zipkin.Of(traceId));
        Assert.Equal("SERVER", Kind(http));
        Assert.Equal("/v1.0/state/statestore", http.GetProperty("name").GetString());
        Assert.Equal(appSpan, Parent(http));
        Assert.Equal("state", Tag(http, "db.system"));
        Assert.Equal("statestore", Tag(http, "db.name"));
        Assert.Equal("POST /v1.0/state/statestore", Tag(http, "db.statement"));
        Assert.Equal("204", Tag(http, "dapr.status_code"));
        var grpc = zipkin.Spans.First(s => s.GetProperty("name").GetString() == "/dapr.proto.runtime.v1.Dapr/SaveState" && Service(s) == appId + "-sidecar");
        Assert.Equal("state", Tag(grpc, "db.system"));
        Assert.Equal("statestore", Tag(grpc, "db.name"));
        Assert.Equal("grpc", Tag(grpc, "dapr.protocol"));
        Assert.Equal("grpc", Tag(grpc, "rpc.system"));
    }

    [Fact]
    public async Task UnsampledCallers_TelemetryIntake_AndHealthChecks_AreNotRecorded_ButTheContextTravelsOn()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var targetId = TestServers.NewId("quiet");
        await using var target = await TestApp.StartAsync((web, _) =>
        {
            web.MapGet("/ping", () => Results.Ok("pong"));
            web.MapPost("/v1/traces", () => Results.Ok());
        });
        using var folder = new ComponentsFolder();
        var config = zipkin.Configuration(folder.Path);
        await using var targetSidecar = await TestSidecar.StartAsync(targetId, folder.Path, target.Port, configPath: config);
        await using var callerSidecar = await TestSidecar.StartAsync(TestServers.NewId("caller"), folder.Path, configPath: config);

        async Task Send(HttpMethod method, string path, string traceparent)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("traceparent", traceparent);
            if (method == HttpMethod.Post)
            {
                request.Content = new StringContent("", Encoding.UTF8, "application/x-protobuf");
            }
            using var response = await callerSidecar.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var unsampled = NewParent(out var unsampledTrace, out _, sampled: false);
        await Send(HttpMethod.Get, $"/v1.0/invoke/{targetId}/method/ping", unsampled);
        var intake = NewParent(out var intakeTrace, out _);
        await Send(HttpMethod.Post, $"/v1.0/invoke/{targetId}/method/v1/traces", intake);
        var sampled = NewParent(out var sampledTrace, out _);
        await Send(HttpMethod.Get, $"/v1.0/invoke/{targetId}/method/ping", sampled);

        // Each sidecar sends its spans in the order they ended: once the last call's spans of both are in, the
        // earlier calls' would be too.
        await Eventually.True(() => zipkin.Of(sampledTrace).Count >= 4, "the sampled call's spans");
        Assert.Empty(zipkin.Of(unsampledTrace));
        Assert.Empty(zipkin.Of(intakeTrace));
        var pings = target.Requests.Where(r => r.Path == "/ping").Select(r => r.Headers["traceparent"]).ToList();
        var unsampledSeen = Assert.Single(pings, p => p.Contains(unsampledTrace, StringComparison.Ordinal));
        Assert.EndsWith("-00", unsampledSeen);
        Assert.NotEqual(unsampled, unsampledSeen);
        // The telemetry intake call reaches the app with the caller's context as it was sent.
        Assert.Equal(intake, target.Requests.Single(r => r.Path == "/v1/traces").Headers["traceparent"]);
    }

    [Fact]
    public async Task SamplingRateZero_RecordsNothing_AndStillPassesTheTraceOn()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var targetId = TestServers.NewId("untraced");
        await using var target = await TestApp.StartAsync((web, _) => web.MapGet("/ping", () => Results.Ok("pong")));
        using var folder = new ComponentsFolder();
        await using var sidecar = await TestSidecar.StartAsync(targetId, folder.Path, target.Port, configPath: zipkin.Configuration(folder.Path, samplingRate: "0"));
        var parent = NewParent(out var traceId, out _);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1.0/invoke/{targetId}/method/ping");
        request.Headers.Add("traceparent", parent);
        using var response = await sidecar.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(sidecar.Sidecar.Tracer.Records);
        Assert.Null(sidecar.Sidecar.Tracer.Exporter);
        // As daprd at rate 0: the caller's context reaches the app untouched, and a call without one arrives without one,
        // so an app that records its own spans keeps its parent and makes its own sampling decision.
        Assert.Equal(parent, target.Requests.Single(r => r.Path == "/ping").Headers["traceparent"]);
        Assert.Equal(traceId, parent.Split('-')[1]);
        using var root = await sidecar.Http.GetAsync($"/v1.0/invoke/{targetId}/method/ping");
        Assert.Equal(HttpStatusCode.OK, root.StatusCode);
        Assert.False(target.Requests.Last(r => r.Path == "/ping").Headers.ContainsKey("traceparent"));
        Assert.Empty(zipkin.Spans);
    }

    [Fact]
    public async Task Publish_CarriesItsSpanInTheEvent_AndTheDeliveryHangsBeneathIt()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var topic = TestServers.NewId("traced");
        var received = new ConcurrentQueue<string>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/traced", (HttpRequest r) => { received.Enqueue(r.Headers.TraceParent.ToString()); return Results.Ok(); }).WithTopic("pubsub", topic));
        using var folder = new ComponentsFolder().PubSub("in-memory");
        var appId = TestServers.NewId("sub");
        await using var sidecar = await TestSidecar.StartAsync(appId, folder.Path, app.Port, configPath: zipkin.Configuration(folder.Path));
        var parent = NewParent(out var traceId, out var appSpan);

        using var publish = new HttpRequestMessage(HttpMethod.Post, $"/v1.0/publish/pubsub/{topic}") { Content = new StringContent("""{"n":1}""", Encoding.UTF8, "application/json") };
        publish.Headers.Add("traceparent", parent);
        using (var published = await sidecar.Http.SendAsync(publish))
        {
            Assert.Equal(HttpStatusCode.NoContent, published.StatusCode);
        }

        await Eventually.True(() => zipkin.Of(traceId).Count >= 2 && !received.IsEmpty, "the publish and delivery spans");
        var spans = zipkin.Of(traceId);
        var server = Assert.Single(spans, s => Kind(s) == "SERVER");
        var delivery = Assert.Single(spans, s => Kind(s) == "CLIENT");
        Assert.Equal(appSpan, Parent(server));
        Assert.Equal("pubsub", Tag(server, "messaging.system"));
        Assert.Equal(topic, Tag(server, "messaging.destination.name"));
        Assert.Equal($"pubsub/{topic}", delivery.GetProperty("name").GetString());
        Assert.Equal(Id(server), Parent(delivery));
        Assert.Equal(topic, Tag(delivery, "messaging.destination.name"));
        Assert.Equal($"00-{traceId}-{Id(delivery)}-01", received.Single());
        var envelope = JsonDocument.Parse(app.Requests.Single(r => r.Path == "/traced").Body).RootElement;
        Assert.Equal($"00-{traceId}-{Id(server)}-01", envelope.GetProperty("traceparent").GetString());
    }

    [Fact]
    public async Task APublishWithoutTraceContext_CarriesNone_WhenTracingIsOff()
    {
        var topic = TestServers.NewId("plain");
        var received = new ConcurrentQueue<string?>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/plain", (HttpRequest r) => { received.Enqueue(r.Headers.TryGetValue("traceparent", out var tp) ? tp.ToString() : null); return Results.Ok(); }).WithTopic("pubsub", topic));
        using var folder = new ComponentsFolder().PubSub("in-memory");
        await using var zipkin = await ZipkinCollector.StartAsync();
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("plainsub"), folder.Path, app.Port, configPath: zipkin.Configuration(folder.Path, samplingRate: "0"));

        using (var published = await sidecar.Http.PostAsync($"/v1.0/publish/pubsub/{topic}", new StringContent("{\"n\":1}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NoContent, published.StatusCode);
        }

        await Eventually.True(() => !received.IsEmpty, "the event to arrive");
        // As daprd: no context invented for the event, so no subscriber is made to record it.
        Assert.Null(received.Single());
        var envelope = JsonDocument.Parse(app.Requests.Single(r => r.Path == "/plain").Body).RootElement;
        Assert.False(envelope.TryGetProperty("traceparent", out _));
    }

    [Fact]
    public async Task AnEventsTracestate_CannotAddHeaders_ToItsDelivery()
    {
        // Publish metadata sets the event's tracestate as written, and .NET puts a CR/LF written without validation on
        // the wire as is: a tracestate of "a=b\r\nX-AgenticFlow-Roles: admin" became a header of the delivery.
        var topic = TestServers.NewId("smuggled");
        var received = new ConcurrentQueue<(string? Roles, string? State)>();
        await using var app = await TestApp.StartAsync((web, _) =>
            web.MapPost("/smuggled", (HttpRequest r) =>
            {
                received.Enqueue((r.Headers.TryGetValue("X-AgenticFlow-Roles", out var roles) ? roles.ToString() : null, r.Headers.TryGetValue("tracestate", out var ts) ? ts.ToString() : null));
                return Results.Ok();
            }).WithTopic("pubsub", topic));
        using var folder = new ComponentsFolder().PubSub("in-memory");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("smugglesub"), folder.Path, app.Port);

        var metadata = "metadata.cloudevent.traceparent=" + Uri.EscapeDataString("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            + "&metadata.cloudevent.tracestate=" + Uri.EscapeDataString("a=b\r\nX-AgenticFlow-Roles: admin");
        using (var published = await sidecar.Http.PostAsync($"/v1.0/publish/pubsub/{topic}?{metadata}", new StringContent("{\"n\":1}", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.NoContent, published.StatusCode);
        }

        await Eventually.True(() => !received.IsEmpty, "the event to arrive");
        var (roles, state) = received.Single();
        Assert.Null(roles);
        Assert.Null(state);
    }

    [Theory]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true, true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", true, false)]
    [InlineData("00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", false, false)]
    [InlineData("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", true, true)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra", false, false)]
    [InlineData("00-00000000000000000000000000000000-b7ad6b7169203331-01", false, false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", false, false)]
    [InlineData("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", false, false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01", false, false)]
    [InlineData("00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01", false, false)]
    [InlineData("", false, false)]
    public void Traceparent_IsReadAsW3CSays(string header, bool valid, bool sampled)
    {
        Assert.Equal(valid, TraceContext.TryParse(header, "a=1", out var context));
        if (valid)
        {
            Assert.Equal(sampled, context.Sampled);
            Assert.Equal("0af7651916cd43dd8448eb211c80319c", context.TraceId.ToHexString());
            Assert.Equal($"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{(sampled ? "01" : "00")}", context.Traceparent);
            Assert.Equal("a=1", context.TraceState);
        }
    }

    [Theory]
    [InlineData("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", true)]
    [InlineData("tenant@vendor=x , ,b=y", true)]
    [InlineData("a=1", true)]
    [InlineData("a=b\r\nx-injected: y", false)]
    [InlineData("a=b\u0000", false)]
    [InlineData("Upper=1", false)]
    [InlineData("_a=1", false)]
    [InlineData("novalue", false)]
    [InlineData("k=", false)]
    [InlineData("k=v=w", false)]
    [InlineData("a@b@c=1", false)]
    [InlineData("k=caf\u00e9", false)]
    public void Tracestate_NotShapedAsW3CSays_IsDroppedWhole(string tracestate, bool kept)
    {
        // It travels to every app and into every event: a control character in one made its deliveries fail for ever.
        Assert.True(TraceContext.TryParse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate, out var context));
        Assert.Equal(kept ? tracestate.Trim() : null, context.TraceState);
    }

    [Fact]
    public void Tracestate_OfMoreThan32Members_IsDropped()
    {
        var state = string.Join(',', Enumerable.Range(0, 33).Select(i => $"k{i}=v"));
        Assert.True(TraceContext.TryParse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", state, out var context));
        Assert.Null(context.TraceState);
        Assert.True(TraceContext.TryParse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", state[..state.LastIndexOf(',')], out context));
        Assert.NotNull(context.TraceState);
    }

    [Fact]
    public void SamplingRate_DecidesNewTraces_ByTheirId()
    {
        var ids = Enumerable.Range(0, 2000).Select(_ => ActivityTraceId.CreateRandom().ToHexString()).ToList();
        Assert.All(ids, id => Assert.True(SidecarTracer.SampledByRate(id, 1)));
        Assert.All(ids, id => Assert.False(SidecarTracer.SampledByRate(id, 0)));
        var half = ids.Count(id => SidecarTracer.SampledByRate(id, 0.5));
        Assert.InRange(half, 800, 1200);
        // The same id is decided the same way by every sidecar.
        Assert.All(ids, id => Assert.Equal(SidecarTracer.SampledByRate(id, 0.3), SidecarTracer.SampledByRate(id, 0.3)));
    }

    [Fact]
    public void TracingSpec_ReadsTheRepositorysConfigurations()
    {
        var repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var messaging = TracingSpec.Load(Path.Combine(repository, "dapr-config/messaging.yaml"));
        Assert.Equal(1, messaging.SamplingRate);
        Assert.Equal(new Uri("http://127.0.0.1:5108/api/v2/spans"), messaging.ZipkinEndpoint);
        Assert.True(messaging.Records);
        // Every app's sidecar sends its spans to the monitoring service (app port 5108 in dapr.yaml): neural's and
        // workflows' once pointed at daprd's default Zipkin port, where nothing listens, and their spans were lost.
        foreach (var file in Directory.GetFiles(Path.Combine(repository, "dapr-config"), "*.yaml"))
        {
            Assert.True(TracingSpec.Load(file).ZipkinEndpoint == new Uri("http://127.0.0.1:5108/api/v2/spans"), $"{Path.GetFileName(file)} sends its spans elsewhere");
        }
        Assert.False(TracingSpec.Load(null).Records);
        using var folder = new ComponentsFolder();
        var noRate = Path.Combine(folder.Path, "bad-rate.yml");
        File.WriteAllText(noRate, "kind: Configuration\nspec:\n  tracing:\n    samplingRate: \"lots\"\n    stdout: true\n");
        var spec = TracingSpec.Load(noRate);
        // daprd's default rate for a value that is not a number.
        Assert.Equal(TracingSpec.DefaultSamplingRate, spec.SamplingRate);
        Assert.True(spec.Stdout);
        Assert.True(spec.Records);
        var zero = Path.Combine(folder.Path, "zero.yml");
        File.WriteAllText(zero, "kind: Configuration\nspec:\n  tracing:\n    samplingRate: \"0\"\n    zipkin:\n      endpointAddress: http://127.0.0.1:9/api/v2/spans\n");
        Assert.False(TracingSpec.Load(zero).Records);
    }

    [Fact]
    public async Task Stdout_WritesEachSpanAsAJsonLine()
    {
        var spec = new TracingSpec(1, null, true);
        var console = new StringWriter();
        var tracer = new SidecarTracer("printer-sidecar", spec, new SpanExporter("printer", spec, null, NullLogger.Instance, stdout: console));
        TraceContext.TryParse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null, out var parent);
        var span = tracer.Start("/v1.0/state/statestore", SpanKind.Server, parent);
        SpanShape.Describe(span, "POST", "/v1.0/state/statestore", "printer");
        span.End(204);
        // Disposing sends what is queued.
        await tracer.DisposeAsync();

        var line = Assert.Single(console.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var printed = Assert.Single(JsonDocument.Parse(line).RootElement.EnumerateArray());
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", printed.GetProperty("traceId").GetString());
        Assert.Equal("b7ad6b7169203331", Parent(printed));
        Assert.Equal("printer-sidecar", Service(printed));
        Assert.Equal("state", Tag(printed, "db.system"));
        Assert.Equal("204", Tag(printed, "dapr.status_code"));
    }

    [Theory]
    [InlineData("/v1.0/invoke/monitoring/method/v1/traces", false)]
    [InlineData("/v1.0/invoke/monitoring/method/v1/metrics", false)]
    [InlineData("/__agenticflow/invoke/api/v2/spans", false)]
    [InlineData("/v1.0/invoke/agents/method/readyz", false)]
    [InlineData("/v1.0/healthz", false)]
    [InlineData("/v1.0/healthz/outbound", false)]
    [InlineData("/v1.0/invoke/agents/method/healthz?probe=1", false)]
    [InlineData("/TaskHubSidecarService/GetWorkItems", false)]
    // A caller cannot leave its calls out of the traces by the shape of its path.
    [InlineData("/v1.0/invoke/agents/method/api/v1/agents/x/healthz", true)]
    [InlineData("/v1.0/invoke/agents/method/api/v1/agents/healthz/state", true)]
    [InlineData("/v1.0/invoke/memory/method/api/v1/memory/a/GetWorkItems", true)]
    [InlineData("/v1.0/invoke/agents/method/api/v1/agents/x/readyz", true)]
    [InlineData("/__agenticflow/invoke/api/v1/agents/livez", true)]
    [InlineData("/v1.0/state/statestore/healthz", true)]
    [InlineData("/v1.0/invoke/search/method/v1/logsearch", true)]
    [InlineData("/v1.0/invoke/search/method/v1/metrics-summary", true)]
    [InlineData("/v1.0/invoke/messaging/method/api/v1/messages", true)]
    [InlineData("/v1.0/state/statestore", true)]
    public void TelemetryIntake_AndHealthProbes_AreNotTraced_ByWholeSegments(string path, bool traced) =>
        Assert.Equal(traced, SpanShape.IsTraced(path));

    [Fact]
    public async Task ActorTimers_DoNotCarryTheRegisteringRequestsTrace()
    {
        await using var zipkin = await ZipkinCollector.StartAsync();
        var fires = new ConcurrentQueue<string>();
        await using var app = await TestApp.StartAsync((web, _) =>
        {
            web.MapGet("/dapr/config", () => Results.Json(new { entities = new[] { "Ticker" } }));
            web.MapPut("/actors/Ticker/{id}/method/timer/{name}", (HttpRequest r) => { fires.Enqueue(r.Headers.TraceParent.ToString()); return Results.Ok(); });
            web.MapDelete("/actors/Ticker/{id}", () => Results.Ok());
        });
        using var folder = new ComponentsFolder().State("in-memory", extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("ticker"), folder.Path, app.Port, configPath: zipkin.Configuration(folder.Path));
        var parent = NewParent(out var traceId, out _);

        using var register = new HttpRequestMessage(HttpMethod.Post, "/v1.0/actors/Ticker/t1/timers/tick") { Content = new StringContent("""{"dueTime":"0s","period":"1s"}""", Encoding.UTF8, "application/json") };
        register.Headers.Add("traceparent", parent);
        using (var registered = await sidecar.Http.SendAsync(register))
        {
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        }

        await Eventually.True(() => fires.Count >= 2, "the timer to fire twice", 30);
        Assert.All(fires, f => Assert.DoesNotContain(traceId, f, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AFullQueue_DropsAndCountsSpans_WithoutWaiting()
    {
        // Nothing listens on the endpoint, and the first batch lingers long: the queue of two fills at once.
        var spec = new TracingSpec(1, new Uri($"http://127.0.0.1:{TestSidecar.FreePort()}/api/v2/spans"), false);
        using var http = new HttpClient();
        await using var exporter = new SpanExporter("dropper", spec, http, NullLogger.Instance, capacity: 2, linger: TimeSpan.FromSeconds(30));
        await using var tracer = new SidecarTracer("dropper-sidecar", spec, exporter);
        for (var i = 0; i < 50; i++)
        {
            tracer.Start("s" + i, SpanKind.Server, null).End(200);
        }
        Assert.True(exporter.Dropped >= 47, $"dropped {exporter.Dropped}");
        Assert.Equal(0, exporter.Exported);
    }
}
