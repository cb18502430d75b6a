using System.Collections.Concurrent;
using System.Net;
using Dapr.Actors;
using Dapr.Actors.Client;
using Dapr.Actors.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Tests.Actors;

public interface ICounterActor : IActor
{
    /// <summary>Adds to the stored count, slowly, noting any other turn of the same actor running at once.</summary>
    Task<int> Add(int amount);

    Task<int> Get();

    /// <summary>The name of the app instance that hosts this activation.</summary>
    Task<string> Where();

    /// <summary>Calls itself <paramref name="depth"/> - 1 times, each call nested in the previous one.</summary>
    Task<int> Recurse(int depth);

    Task StartTimer(int dueMs, int periodMs);

    Task StartReminder(string name, int dueMs, int periodMs);

    Task StopReminder(string name);

    /// <summary>A one-shot timer whose callback unregisters itself first, then keeps working for a while.</summary>
    Task StartSelfCancellingTimer();
}

/// <summary>What actors did, by actor id (ids are unique per test): activations, deactivations, timer and reminder
/// firings, and turns that overlapped. Kept outside the app so it survives restarts of the runtime and the app.</summary>
public static class ActorLog
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<string>> Events = new();
    private static readonly ConcurrentDictionary<string, int> InFlight = new();

    public static void Note(string actorId, string what) => Events.GetOrAdd(actorId, _ => new()).Enqueue(what);

    public static int Count(string actorId, string what) => Events.TryGetValue(actorId, out var q) ? q.Count(e => e == what) : 0;

    public static int CountStarting(string actorId, string prefix) => Events.TryGetValue(actorId, out var q) ? q.Count(e => e.StartsWith(prefix, StringComparison.Ordinal)) : 0;

    public static IDisposable Turn(string actorId)
    {
        if (InFlight.AddOrUpdate(actorId, 1, (_, n) => n + 1) > 1)
        {
            Note(actorId, "overlap");
        }
        return new Leave(actorId);
    }

    private sealed class Leave(string actorId) : IDisposable
    {
        public void Dispose() => InFlight.AddOrUpdate(actorId, 0, (_, n) => n - 1);
    }
}

public sealed record AppInstance(string Name);

public sealed class CounterActor(ActorHost host, AppInstance instance) : Actor(host), ICounterActor, IRemindable
{
    private string Key => Id.GetId();

    protected override Task OnActivateAsync()
    {
        ActorLog.Note(Key, "activate:" + instance.Name);
        return Task.CompletedTask;
    }

    protected override Task OnDeactivateAsync()
    {
        ActorLog.Note(Key, "deactivate");
        return Task.CompletedTask;
    }

    public async Task<int> Add(int amount)
    {
        using (ActorLog.Turn(Key))
        {
            var current = await StateManager.TryGetStateAsync<int>("count");
            await Task.Delay(20);
            var next = (current.HasValue ? current.Value : 0) + amount;
            await StateManager.SetStateAsync("count", next);
            return next;
        }
    }

    public async Task<int> Get()
    {
        var current = await StateManager.TryGetStateAsync<int>("count");
        return current.HasValue ? current.Value : 0;
    }

    public Task<string> Where() => Task.FromResult(instance.Name);

    public async Task<int> Recurse(int depth)
    {
        if (depth <= 1)
        {
            return 1;
        }
        var self = ProxyFactory.CreateActorProxy<ICounterActor>(Id, Host.ActorTypeInfo.ActorTypeName);
        return 1 + await self.Recurse(depth - 1);
    }

    public Task StartTimer(int dueMs, int periodMs) =>
        RegisterTimerAsync("tick", nameof(OnTick), [], TimeSpan.FromMilliseconds(dueMs), TimeSpan.FromMilliseconds(periodMs));

    public Task OnTick()
    {
        ActorLog.Note(Key, "timer");
        return Task.CompletedTask;
    }

    public Task StartReminder(string name, int dueMs, int periodMs) =>
        RegisterReminderAsync(name, System.Text.Encoding.UTF8.GetBytes("payload-" + name), TimeSpan.FromMilliseconds(dueMs), TimeSpan.FromMilliseconds(periodMs));

    public Task StopReminder(string name) => UnregisterReminderAsync(name);

    public Task StartSelfCancellingTimer() =>
        RegisterTimerAsync("once", nameof(OnOnce), [], TimeSpan.Zero, TimeSpan.FromMilliseconds(-1));

    public async Task OnOnce()
    {
        await UnregisterTimerAsync("once");
        using (ActorLog.Turn(Key))
        {
            await Task.Delay(400);
            ActorLog.Note(Key, "once-done");
        }
    }

    public Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName.StartsWith("fail", StringComparison.Ordinal))
        {
            ActorLog.Note(Key, "reminder-refused");
            throw new InvalidOperationException("this reminder always fails");
        }
        ActorLog.Note(Key, $"reminder:{reminderName}:{System.Text.Encoding.UTF8.GetString(state)}");
        return Task.CompletedTask;
    }
}

/// <summary>An ASP.NET app hosting actors with Dapr.Actors.AspNetCore, talking to the sidecar on <paramref name="sidecarHttpPort"/>.
/// <c>Counter</c> has the app's defaults; <c>ReentrantCounter</c> allows reentrancy up to depth 4.</summary>
public sealed class ActorTestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ActorTestApp(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<ActorTestApp> StartAsync(int sidecarHttpPort, string instance, TimeSpan? idleTimeout = null, int? port = null)
    {
        var appPort = port ?? Infrastructure.TestSidecar.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, appPort));
        builder.Services.AddRouting();
        builder.Services.AddSingleton(new AppInstance(instance));
        builder.Services.AddActors(options =>
        {
            options.HttpEndpoint = $"http://127.0.0.1:{sidecarHttpPort}";
            options.ActorIdleTimeout = idleTimeout ?? TimeSpan.FromMinutes(60);
            options.ActorScanInterval = TimeSpan.FromMilliseconds(250);
            options.Actors.RegisterActor<CounterActor>("Counter");
            options.Actors.RegisterActor<CounterActor>("ReentrantCounter", new ActorRuntimeOptions
            {
                ActorIdleTimeout = idleTimeout ?? TimeSpan.FromMinutes(60),
                ReentrancyConfig = new ActorReentrancyConfig { Enabled = true, MaxStackDepth = 4 },
            });
        });
        var app = builder.Build();
        app.MapActorsHandlers();
        await app.StartAsync();
        return new ActorTestApp(app, appPort);
    }

    public static IActorProxyFactory Proxies(int sidecarHttpPort) =>
        new ActorProxyFactory(new ActorProxyOptions { HttpEndpoint = $"http://127.0.0.1:{sidecarHttpPort}", RequestTimeout = TimeSpan.FromSeconds(30) });

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
