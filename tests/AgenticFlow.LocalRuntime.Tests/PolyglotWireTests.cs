using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>What SDKs other than .NET's rely on from daprd at the HTTP level. daprd reads JSON with Go's
/// encoding/json, which matches field names ignoring case (the JavaScript SDK's bulk publish sends <c>entryID</c>),
/// passes an actor's error answer on as the app gave it, and passes content types on as written.</summary>
public sealed class PolyglotWireTests
{
    [Fact]
    public void JsonFields_MatchNamesIgnoringCase_TheLastMatchingMemberWins_MapKeysAndValuesStayAsSent()
    {
        var element = JsonDocument.Parse("""{"entryID":"a","ENTRYID":"b","metadata":{"TTLInSeconds":"5"},"other":1}""").RootElement;

        Assert.Equal("b", element.StringField("entryId"));
        Assert.True(element.TryGetField("Metadata", out var metadata));
        Assert.False(metadata.TryGetProperty("ttlInSeconds", out _));
        Assert.False(element.TryGetField("missing", out _));
        Assert.Null(element.StringField("other"));
        Assert.False(JsonDocument.Parse("[1]").RootElement.TryGetField("x", out _));
    }

    [Fact]
    public async Task EveryBodyTheRuntimeReads_TakesFieldNamesInAnyCase()
    {
        var topic = TestServers.NewId("case");
        await using var app = await CaseApp.StartAsync(topic);
        using var folder = new ComponentsFolder()
            .State("in-memory", extraMetadata: ComponentsFolder.ActorStateStore)
            .PubSub("in-memory");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("case"), folder.Path, appPort: app.Port);
        var http = sidecar.Http;

        // /dapr/config and /dapr/subscribe were answered with capitalised fields, and were understood.
        Assert.Contains(sidecar.Sidecar.Metadata.Subscriptions, s => s.Topic == topic && s.PubSubName == "pubsub");

        await Send(http, HttpMethod.Post, "/v1.0/state/statestore",
            """[{"KEY":"k","Value":{"n":1},"Options":{"Concurrency":"first-write","Consistency":"strong"}},{"Key":"gone","VALUE":0}]""");
        Assert.Equal("""{"n":1}""", await http.GetStringAsync("/v1.0/state/statestore/k"));
        var bulk = await Send(http, HttpMethod.Post, "/v1.0/state/statestore/bulk", """{"Keys":["k"],"Parallelism":1}""");
        Assert.Equal(1, JsonDocument.Parse(bulk).RootElement[0].GetProperty("data").GetProperty("n").GetInt32());
        await Send(http, HttpMethod.Post, "/v1.0/state/statestore/transaction",
            """{"Operations":[{"Operation":"upsert","Request":{"Key":"t","Value":2}},{"OPERATION":"delete","request":{"KEY":"gone"}}]}""");
        Assert.Equal("2", await http.GetStringAsync("/v1.0/state/statestore/t"));
        Assert.Equal(HttpStatusCode.NoContent, (await http.GetAsync("/v1.0/state/statestore/gone")).StatusCode);
        var query = await Send(http, HttpMethod.Post, "/v1.0-alpha1/state/statestore/query", """{"Filter":{"EQ":{"n":1}},"Page":{"Limit":5}}""");
        Assert.Equal("k", Assert.Single(JsonDocument.Parse(query).RootElement.GetProperty("results").EnumerateArray()).GetProperty("key").GetString());

        await Send(http, HttpMethod.Post, $"/v1.0-alpha1/publish/bulk/pubsub/{topic}",
            """[{"entryID":"one","Event":{"n":7},"ContentType":"application/json"},{"ENTRYID":"two","event":{"n":8},"contentType":"application/json"}]""");
        await Eventually.True(() => app.Delivered.Count == 2, "both bulk-published events delivered");
        Assert.Equal([7, 8], app.Delivered.Select(d => JsonDocument.Parse(d).RootElement.GetProperty("data").GetProperty("n").GetInt32()).Order());

        await Send(http, HttpMethod.Post, "/v1.0/actors/Crate/c1/state", """[{"Operation":"upsert","Request":{"Key":"size","Value":5}}]""");
        Assert.Equal("5", await http.GetStringAsync("/v1.0/actors/Crate/c1/state/size"));
        await Send(http, HttpMethod.Post, "/v1.0/actors/Crate/c1/reminders/ring", """{"DueTime":"0s","Period":"","Data":"r"}""");
        await Send(http, HttpMethod.Post, "/v1.0/actors/Crate/c1/timers/tick", """{"DUETIME":"0s","Callback":"onTick","Data":"t"}""");
        await Eventually.True(() => app.Callbacks.Any(c => c.Path.EndsWith("/remind/ring", StringComparison.Ordinal))
            && app.Callbacks.Any(c => c.Path.EndsWith("/timer/tick", StringComparison.Ordinal)), "the reminder and the timer to fire");
        var timer = JsonDocument.Parse(app.Callbacks.First(c => c.Path.EndsWith("/timer/tick", StringComparison.Ordinal)).Body).RootElement;
        Assert.Equal("onTick", timer.GetProperty("callback").GetString());
        Assert.Equal("t", timer.GetProperty("data").GetString());
    }

    [Fact]
    public async Task ActorMethodError_ReachesTheCallerAsTheAppAnsweredIt_AndContentTypesPassAsWritten()
    {
        await using var app = await CaseApp.StartAsync(TestServers.NewId("unused"));
        using var folder = new ComponentsFolder().State("in-memory", extraMetadata: ComponentsFolder.ActorStateStore);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wire"), folder.Path, appPort: app.Port);

        using var refuse = new HttpRequestMessage(HttpMethod.Post, "/v1.0/actors/Crate/c2/method/refuse") { Content = new ByteArrayContent("[]"u8.ToArray()) };
        refuse.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json; utf-8");
        using var refused = await sidecar.Http.SendAsync(refuse);

        // daprd answers with the app's status and body, so the Python and JavaScript SDKs read the app's own error.
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("""{"message":"the crate is full","errorCode":"CRATE_FULL"}""", await refused.Content.ReadAsStringAsync());
        Assert.Equal("application/json; utf-8", Assert.Single(app.Callbacks, c => c.Path.EndsWith("/refuse", StringComparison.Ordinal)).ContentType);
    }

    [Fact]
    public async Task PublishWithoutContentType_CarriesTextData_AndCloudEventOverridesIgnoreCase()
    {
        var topic = TestServers.NewId("plain");
        await using var app = await CaseApp.StartAsync(topic);
        using var folder = new ComponentsFolder().State("in-memory", extraMetadata: ComponentsFolder.ActorStateStore).PubSub("in-memory");
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("plain"), folder.Path, appPort: app.Port);

        // Over HTTP with no Content-Type (as curl or a bare client sends), and over gRPC with none (as the Python SDK
        // publishes unless told): daprd treats the data as text/plain.
        using var http = new HttpRequestMessage(HttpMethod.Post, $"/v1.0/publish/pubsub/{topic}?metadata.cloudevent.TYPE=order.placed&metadata.cloudevent.nonsense=x")
        {
            Content = new ByteArrayContent("""{"n":1}"""u8.ToArray()),
        };
        Assert.Equal(HttpStatusCode.NoContent, (await sidecar.Http.SendAsync(http)).StatusCode);
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{sidecar.GrpcPort}");
        await new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel).PublishEventAsync(new Dapr.Client.Autogen.Grpc.v1.PublishEventRequest
        {
            PubsubName = "pubsub", Topic = topic, Data = Google.Protobuf.ByteString.CopyFromUtf8("""{"n":2}"""),
        });

        await Eventually.True(() => app.Delivered.Count == 2, "both events delivered");
        var events = app.Delivered.Select(d => JsonDocument.Parse(d).RootElement).OrderBy(e => e.GetProperty("data").GetString()).ToList();
        Assert.All(events, e => Assert.Equal("text/plain", e.GetProperty("datacontenttype").GetString()));
        Assert.Equal(["""{"n":1}""", """{"n":2}"""], events.Select(e => e.GetProperty("data").GetString()));
        Assert.Equal("order.placed", events[0].GetProperty("type").GetString());
        Assert.False(events[0].TryGetProperty("nonsense", out _));
    }

    private static async Task<string> Send(HttpClient http, HttpMethod method, string path, string json)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} answered {(int)response.StatusCode}: {body}");
        return body;
    }

    /// <summary>An app that answers the sidecar's questions with capitalised field names, as a Go app may.</summary>
    private sealed class CaseApp : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private CaseApp(WebApplication app, int port)
        {
            _app = app;
            Port = port;
        }

        public int Port { get; }
        public ConcurrentQueue<string> Delivered { get; } = new();
        public ConcurrentQueue<(string Path, string Body, string ContentType)> Callbacks { get; } = new();

        public static async Task<CaseApp> StartAsync(string topic)
        {
            var port = TestSidecar.FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
            var web = builder.Build();
            var app = new CaseApp(web, port);
            web.MapGet("/dapr/config", () => Results.Text("""{"Entities":["Crate"],"ActorIdleTimeout":"1h","Reentrancy":{"Enabled":false}}""", "application/json"));
            web.MapGet("/dapr/subscribe", () => Results.Text($$"""[{"PubsubName":"pubsub","Topic":"{{topic}}","Route":"/got"}]""", "application/json"));
            web.MapPost("/got", async (HttpRequest request) =>
            {
                app.Delivered.Enqueue(await new StreamReader(request.Body).ReadToEndAsync());
                return Results.Text("""{"Status":"SUCCESS"}""", "application/json");
            });
            web.MapPut("/actors/Crate/{id}/method/{**rest}", async (HttpRequest request, string rest) =>
            {
                app.Callbacks.Enqueue((request.Path.Value!, await new StreamReader(request.Body).ReadToEndAsync(), request.Headers.ContentType.ToString()));
                return rest == "refuse"
                    ? Results.Text("""{"message":"the crate is full","errorCode":"CRATE_FULL"}""", "application/json", statusCode: 409)
                    : Results.Ok();
            });
            web.MapDelete("/actors/Crate/{id}", () => Results.Ok());
            await web.StartAsync();
            return app;
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }
}
