using System.Net;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>
/// What a caller of a sidecar cannot do: reach another sidecar's own API through an invocation path, use the
/// peer key anywhere but the peer endpoints, name its own caller app id, or read secrets its app is not scoped to.
/// </summary>
public sealed class SidecarBoundaryTests
{
    private const string TargetSecret = "only-the-target-sidecar-holds-THIS-VALUE";

    /// <summary>A target app behind its sidecar (which alone holds a secret), and a caller sidecar with an API token.</summary>
    private sealed class Pair : IAsyncDisposable
    {
        public required TestApp App { get; init; }
        public required string TargetId { get; init; }
        public required TestSidecar Target { get; init; }
        public required TestSidecar Caller { get; init; }
        public required ComponentsFolder TargetFolder { get; init; }
        public required ComponentsFolder CallerFolder { get; init; }

        /// <summary>Request targets the app received from invocations (the sidecar's own /dapr/* start-up calls left out).</summary>
        public string[] Invoked => App.RawTargets.Where(t => !t.StartsWith("/dapr/", StringComparison.Ordinal)).ToArray();

        public static async Task<Pair> StartAsync()
        {
            var app = await TestApp.StartAsync((web, _) => web.Map("/{**rest}", (HttpRequest r) => Results.Ok(new { caller = r.Headers["dapr-caller-app-id"].ToString() })));
            var targetFolder = new ComponentsFolder().State("in-memory").SecretStore($$"""{"top": "{{TargetSecret}}"}""");
            var callerFolder = new ComponentsFolder();
            var targetId = TestServers.NewId("target");
            var target = await TestSidecar.StartAsync(targetId, targetFolder.Path, app.Port, apiToken: "target-token");
            var caller = await TestSidecar.StartAsync(TestServers.NewId("caller"), callerFolder.Path, apiToken: "caller-token");
            return new Pair { App = app, TargetId = targetId, Target = target, Caller = caller, TargetFolder = targetFolder, CallerFolder = callerFolder };
        }

        public async ValueTask DisposeAsync()
        {
            await Caller.DisposeAsync();
            await Target.DisposeAsync();
            await App.DisposeAsync();
            TargetFolder.Dispose();
            CallerFolder.Dispose();
        }
    }

    public static TheoryData<string, string> Escapes => new()
    {
        // Dot-segments the caller's own server leaves alone (encoded twice or three times, or split by an encoded slash),
        // which an invocation used to resolve when it built the next hop's address.
        { "%252e%252e", "/" }, { "%252E%252E", "/" }, { "%25252e%25252e", "/" }, { ".%252e", "/" }, { "%252e.", "/" },
        { "%2e%2e", "%2F" }, { "..", "%2F" }, { "..", "%2f" }, { "%252e%252e", "%252F" }, { "..", "%252F" }, { "%2e%2e", "%5C" },
    };

    [Theory]
    [MemberData(nameof(Escapes))]
    public async Task Invocation_WithEncodedDotSegments_IsRefused_AndNeverReachesTheTargetSidecarsApi(string dots, string slash)
    {
        await using var pair = await Pair.StartAsync();
        var climb = string.Concat(Enumerable.Repeat(dots + slash, 7));
        var headers = new Dictionary<string, string> { ["dapr-api-token"] = "caller-token" };

        foreach (var (verb, api) in new[] { ("GET", "v1.0/secrets/secretstore/bulk"), ("GET", "v1.0/metadata"), ("POST", "v1.0/shutdown") })
        {
            var answer = await RawHttp.SendAsync(pair.Caller.HttpPort, verb, $"/v1.0/invoke/{pair.TargetId}/method/x/{climb}{api}", headers, verb == "POST" ? "{}" : null);

            Assert.Equal(400, answer.Status);
            Assert.Contains("ERR_DIRECT_INVOKE", answer.Body);
            Assert.DoesNotContain(TargetSecret, answer.Body);
        }
        Assert.Empty(pair.Invoked);
        Assert.True(pair.Target.Sidecar.IsReady, "the target sidecar was not shut down");
        Assert.Equal(HttpStatusCode.NoContent, (await pair.Target.Http.GetAsync("/v1.0/healthz")).StatusCode);
    }

    [Fact]
    public async Task Invocation_CarriesTheMethodPathAndQueryUnchanged_ToTheApp()
    {
        await using var pair = await Pair.StartAsync();
        const string method = "/items/a%2Fb/50%25off/caf%C3%A9?q=%2e%2e&x=a%26b";

        var viaPeer = await RawHttp.SendAsync(pair.Caller.HttpPort, "GET", $"/v1.0/invoke/{pair.TargetId}/method{method}", new Dictionary<string, string> { ["dapr-api-token"] = "caller-token" });
        var direct = await RawHttp.SendAsync(pair.Target.HttpPort, "GET", $"/v1.0/invoke/{pair.TargetId}/method{method}", new Dictionary<string, string> { ["dapr-api-token"] = "target-token" });

        Assert.Equal(200, viaPeer.Status);
        Assert.Equal(200, direct.Status);
        Assert.Equal([method, method], pair.Invoked);
    }

    [Fact]
    public async Task GrpcInvocation_RefusesAQueryThatWouldSmuggleASecondRequest_AndPassesValidPathsAsWritten()
    {
        await using var pair = await Pair.StartAsync();
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{pair.Caller.GrpcPort}");
        var dapr = new Dapr.Client.Autogen.Grpc.v1.Dapr.DaprClient(channel);
        var token = new Grpc.Core.Metadata { { "dapr-api-token", "caller-token" } };
        Dapr.Client.Autogen.Grpc.v1.InvokeServiceRequest Call(string method, string query) => new()
        {
            Id = pair.TargetId,
            Message = new Dapr.Client.Autogen.Grpc.v1.InvokeRequest
            {
                Method = method,
                HttpExtension = new Dapr.Client.Autogen.Grpc.v1.HTTPExtension { Verb = Dapr.Client.Autogen.Grpc.v1.HTTPExtension.Types.Verb.Get, Querystring = query },
            },
        };

        const string smuggle = "a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nPOST /__agenticflow/workflows/v1.0/workflows/dapr/Evil/start?instanceID=smuggled HTTP/1.1\r\nX-Junk: z";
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await dapr.InvokeServiceAsync(Call("x", smuggle), token));
        var dots = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await dapr.InvokeServiceAsync(Call("x/../../v1.0/metadata", ""), token));
        await dapr.InvokeServiceAsync(Call("items/a%20b/caf\u00e9 au lait", "q=1&r=%2F"), token);
        // daprd appends the method as text: a '?' in it starts the query (the JavaScript SDK's gRPC client relies on it).
        await dapr.InvokeServiceAsync(Call("orders?id=7", ""), token);
        await dapr.InvokeServiceAsync(Call("orders?id=7", "page=2"), token);

        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, dots.StatusCode);
        Assert.Equal(["/items/a%20b/caf%C3%A9%20au%20lait?q=1&r=%2F", "/orders?id=7", "/orders?id=7?page=2"], pair.Invoked);
    }

    [Fact]
    public async Task CallerAppId_IsStatedBySidecars_NeverTakenFromTheCaller()
    {
        await using var pair = await Pair.StartAsync();
        var spoofing = new Dictionary<string, string> { ["dapr-api-token"] = "caller-token", ["dapr-caller-app-id"] = "gateway", ["dapr-callee-app-id"] = "someone" };

        var answer = await RawHttp.SendAsync(pair.Caller.HttpPort, "GET", $"/v1.0/invoke/{pair.TargetId}/method/who", spoofing);

        Assert.Equal(200, answer.Status);
        Assert.Contains($"\"caller\":\"{pair.Caller.Sidecar.Options.AppId}\"", answer.Body);
        var seen = pair.App.Requests.Single(r => r.Path == "/who");
        Assert.Equal(pair.TargetId, seen.Headers["dapr-callee-app-id"]);
    }

    [Fact]
    public async Task PeerKey_OpensOnlyThePeerEndpoints_NeverTheDaprApi()
    {
        await using var pair = await Pair.StartAsync();
        var peer = new Dictionary<string, string> { [PeerProtocol.KeyHeader] = pair.Target.Sidecar.PeerKey };
        var port = pair.Target.HttpPort;

        var secrets = await RawHttp.SendAsync(port, "GET", "/v1.0/secrets/secretstore/bulk", peer);
        var metadata = await RawHttp.SendAsync(port, "GET", "/v1.0/metadata", peer);
        var state = await RawHttp.SendAsync(port, "POST", "/v1.0/state/statestore", peer, """[{"key":"pwned","value":1}]""");
        var shutdown = await RawHttp.SendAsync(port, "POST", "/v1.0/shutdown", peer, "{}");
        var workflowDetour = await RawHttp.SendAsync(port, "GET", "/__agenticflow/workflows/v1.0/secrets/secretstore/bulk", peer);
        var wrongKey = await RawHttp.SendAsync(port, "GET", "/__agenticflow/invoke/x", new Dictionary<string, string> { [PeerProtocol.KeyHeader] = pair.Target.Sidecar.PeerKey + "0" });
        var rightKey = await RawHttp.SendAsync(port, "GET", "/__agenticflow/invoke/x", peer);

        Assert.Equal([401, 401, 401, 401], new[] { secrets.Status, metadata.Status, state.Status, shutdown.Status });
        Assert.Equal(404, workflowDetour.Status);
        Assert.Equal(403, wrongKey.Status);
        Assert.Equal(200, rightKey.Status);
        Assert.DoesNotContain(TargetSecret, secrets.Body + workflowDetour.Body);
        Assert.True(pair.Target.Sidecar.IsReady);
        Assert.Null(await pair.Target.Client.GetStateAsync<int?>("statestore", "pwned"));
    }

    [Fact]
    public async Task SecretScopes_OfTheAppsConfiguration_LimitWhatItReads_OnHttpAndGrpc()
    {
        using var folder = new ComponentsFolder().SecretStore("""{"mine": "m-value", "theirs": "t-value", "other": "o-value"}""")
            .Add("allow-list.config", """
                apiVersion: dapr.io/v1alpha1
                kind: Configuration
                metadata:
                  name: allow-list
                spec:
                  secrets:
                    scopes:
                    - storeName: secretstore
                      defaultAccess: deny
                      allowedSecrets: ["mine"]
                """)
            .Add("deny-list.config", """
                apiVersion: dapr.io/v1alpha1
                kind: Configuration
                metadata:
                  name: deny-list
                spec:
                  secrets:
                    scopes:
                    - storeName: secretstore
                      deniedSecrets: ["theirs"]
                """);
        await using var allowList = await TestSidecar.StartAsync(TestServers.NewId("allow"), folder.Path, configPath: Path.Combine(folder.Path, "allow-list.config"));
        await using var denyList = await TestSidecar.StartAsync(TestServers.NewId("deny"), folder.Path, configPath: Path.Combine(folder.Path, "deny-list.config"));

        Assert.Equal("m-value", (await allowList.Client.GetSecretAsync("secretstore", "mine"))["mine"]);
        await Assert.ThrowsAnyAsync<DaprException>(() => allowList.Client.GetSecretAsync("secretstore", "theirs"));
        var refused = await allowList.Http.GetAsync("/v1.0/secrets/secretstore/other");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("ERR_PERMISSION_DENIED", await refused.Content.ReadAsStringAsync());
        Assert.Equal(["mine"], (await allowList.Client.GetBulkSecretAsync("secretstore")).Keys.Order());
        Assert.DoesNotContain("t-value", await allowList.Http.GetStringAsync("/v1.0/secrets/secretstore/bulk"));

        Assert.Equal("o-value", (await denyList.Client.GetSecretAsync("secretstore", "other"))["other"]);
        await Assert.ThrowsAnyAsync<DaprException>(() => denyList.Client.GetSecretAsync("secretstore", "theirs"));
        Assert.Equal(["mine", "other"], (await denyList.Client.GetBulkSecretAsync("secretstore")).Keys.Order());
    }

    [Fact]
    public void TheRepositorysAppConfigurations_GiveTheGatewaysSecretsToTheGatewayAlone()
    {
        var repo = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        Secrets.SecretScopes ScopesOf(string app) => ResourceLoader.LoadSecretScopes(Path.Combine(repo, "dapr-config", app + ".yaml"));
        var gateway = ScopesOf("gateway");
        var messaging = ScopesOf("messaging");
        var providers = ScopesOf("providers");
        string[] gatewaySecrets = ["gateway-api-keys", "gateway-jwt-signing-key"];

        Assert.All(gatewaySecrets, s => Assert.True(gateway.Allows("secretstore", s)));
        Assert.False(gateway.Allows("secretstore", "provider-openai"));
        Assert.All(gatewaySecrets, s => Assert.False(messaging.Allows("secretstore", s)));
        Assert.All(gatewaySecrets, s => Assert.False(providers.Allows("secretstore", s)));
        Assert.False(providers.Allows("secretstore", "postgres:connectionString"));
        Assert.True(providers.Allows("secretstore", "provider-openai"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void NameRegistry_RefusesAFolderUnderOneOtherUsersCouldReplace()
    {
        var root = Directory.CreateTempSubdirectory("agenticflow-shared-parent-");
        try
        {
            // A parent anyone may write to (not a sticky folder of root's): whoever can write there can swap the registry.
            File.SetUnixFileMode(root.FullName, (UnixFileMode)0x1FF);
            var refused = Assert.Throws<InvalidOperationException>(() => new NameRegistry(Path.Combine(root.FullName, "apps")));
            Assert.Contains("other users may write", refused.Message);

            // The same parent owned by another user.
            File.SetUnixFileMode(root.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (Environment.UserName == "root")
            {
                Assert.Equal(0, Chown(root.FullName, 12345, 12345));
                var foreign = Assert.Throws<InvalidOperationException>(() => new NameRegistry(Path.Combine(root.FullName, "apps2")));
                Assert.Contains("belongs to user id 12345", foreign.Message);
            }
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int owner, int group);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void NameRegistry_RefusesAFolderOtherUsersCanEnter()
    {
        var open = Directory.CreateTempSubdirectory("agenticflow-open-names-");
        try
        {
            File.SetUnixFileMode(open.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var refused = Assert.Throws<InvalidOperationException>(() => new NameRegistry(open.FullName));
            Assert.Contains("0700", refused.Message);

            File.SetUnixFileMode(open.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            _ = new NameRegistry(open.FullName);
            var fresh = Path.Combine(open.FullName, "nested", "apps");
            _ = new NameRegistry(fresh);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(fresh));
        }
        finally
        {
            open.Delete(recursive: true);
        }
    }
}
