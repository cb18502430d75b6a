using System.Collections.Concurrent;
using System.Net;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr.Workflow;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Tests.Workflows;

/// <summary>What the activities of one test app did: how often each ran, by key, and gates a test opens.</summary>
public sealed class ActivityLog
{
    public ConcurrentDictionary<string, int> Runs { get; } = new(StringComparer.Ordinal);

    /// <summary>Activities named in here wait for the test to open their gate before they finish.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> Gates { get; } = new(StringComparer.Ordinal);

    public int Count(string key) => Runs.TryGetValue(key, out var n) ? n : 0;

    public int Run(string key) => Runs.AddOrUpdate(key, 1, (_, n) => n + 1);

    public TaskCompletionSource Gate(string key) => Gates.GetOrAdd(key, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>An ASP.NET app hosting the test workflows with <c>AddDaprWorkflow</c>, its worker and client pointed at a
/// sidecar through <c>DAPR_GRPC_ENDPOINT</c> / <c>DAPR_HTTP_ENDPOINT</c>, the way an app finds real daprd.</summary>
public sealed class WorkflowTestApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _disposed;

    private WorkflowTestApp(WebApplication app, ActivityLog log)
    {
        _app = app;
        Log = log;
    }

    public ActivityLog Log { get; }

    public DaprWorkflowClient Client => _app.Services.GetRequiredService<DaprWorkflowClient>();

    public static async Task<WorkflowTestApp> StartAsync(int grpcPort, int httpPort, ActivityLog? log = null)
    {
        log ??= new ActivityLog();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{grpcPort}";
        builder.Configuration["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{httpPort}";
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddDaprWorkflow(options => TestWorkflows.Register(options, log));
        var app = builder.Build();
        await app.StartAsync();
        return new WorkflowTestApp(app, log);
    }

    public static Task<WorkflowTestApp> StartAsync(TestSidecar sidecar, ActivityLog? log = null) => StartAsync(sidecar.GrpcPort, sidecar.HttpPort, log);

    /// <summary>Stops the app, which closes its worker's stream the way a crashed or redeployed app does.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _app.StopAsync(TimeSpan.FromSeconds(5));
            await _app.DisposeAsync();
        }
    }
}

/// <summary>A sidecar whose components folder marks one store as the actor state store, with a workflow app on it.</summary>
public sealed class WorkflowEnvironment : IAsyncDisposable
{
    private WorkflowEnvironment(ComponentsFolder folder, TestSidecar sidecar, WorkflowTestApp app)
    {
        Folder = folder;
        Sidecar = sidecar;
        App = app;
    }

    public ComponentsFolder Folder { get; }
    public TestSidecar Sidecar { get; }
    public WorkflowTestApp App { get; }
    public DaprWorkflowClient Client => App.Client;

    public static async Task<WorkflowEnvironment> StartAsync(string store)
    {
        var folder = new ComponentsFolder().State(store, extraMetadata: ComponentsFolder.ActorStateStore);
        var sidecar = await TestSidecar.StartAsync(TestServers.NewId("wf"), folder.Path);
        var app = await WorkflowTestApp.StartAsync(sidecar);
        return new WorkflowEnvironment(folder, sidecar, app);
    }

    /// <summary>Waits for the outcome; the limit only turns a hang into a failure.</summary>
    public async Task<WorkflowState> CompletionAsync(string instanceId, int seconds = 60)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await Client.WaitForWorkflowCompletionAsync(instanceId, cancellation: limit.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Sidecar.DisposeAsync();
        Folder.Dispose();
    }
}
