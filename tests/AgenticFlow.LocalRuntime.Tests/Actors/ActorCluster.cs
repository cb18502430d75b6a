using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Actors;
using Dapr.Actors.Client;

namespace AgenticFlow.LocalRuntime.Tests.Actors;

/// <summary>One app hosting actors on one or more instances (each an app with its own sidecar), and a second
/// app, "caller", with a sidecar and no actors, whose proxies drive the tests. Each cluster has its own name
/// registry, so clusters of tests running at once never share placement.</summary>
public sealed class ActorCluster : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private ActorCluster(ComponentsFolder folder, string appId, NameRegistry names)
    {
        Folder = folder;
        AppId = appId;
        Names = names;
    }

    public ComponentsFolder Folder { get; }
    public string AppId { get; }
    public NameRegistry Names { get; }
    public List<TestSidecar> Hosts { get; } = [];
    public TestSidecar Caller { get; private set; } = null!;
    public IActorProxyFactory Proxies { get; private set; } = null!;

    public static TheoryData<string> Stores => new() { "sqlite", "redis", "postgresql" };

    public static async Task<ActorCluster> StartAsync(string store, int instances = 1, TimeSpan? idleTimeout = null, bool markActorStore = true)
    {
        var folder = new ComponentsFolder().State(store, extraMetadata: markActorStore ? ComponentsFolder.ActorStateStore : "");
        var cluster = new ActorCluster(folder, TestServers.NewId("actors"), new NameRegistry(Path.Combine(folder.Path, "names")));
        for (var i = 0; i < instances; i++)
        {
            await cluster.AddInstanceAsync(idleTimeout);
        }
        cluster.Caller = await TestSidecar.StartAsync(TestServers.NewId("caller"), folder.Path, names: cluster.Names);
        cluster._owned.Add(cluster.Caller);
        cluster.Proxies = ActorTestApp.Proxies(cluster.Caller.HttpPort);
        return cluster;
    }

    /// <summary>Starts one more instance of the app (app and sidecar), named <c>instance-{n}</c>.</summary>
    public async Task AddInstanceAsync(TimeSpan? idleTimeout = null)
    {
        var i = Hosts.Count;
        var httpPort = TestSidecar.FreePort();
        var app = await ActorTestApp.StartAsync(httpPort, "instance-" + i, idleTimeout);
        _owned.Add(app);
        var sidecar = await TestSidecar.StartAsync(AppId, Folder.Path, app.Port, httpPort: httpPort, instanceId: "i" + i, names: Names);
        _owned.Add(sidecar);
        Hosts.Add(sidecar);
    }

    public ICounterActor Counter(string id, string type = "Counter") => Proxies.CreateActorProxy<ICounterActor>(new ActorId(id), type);

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
        Folder.Dispose();
    }
}
