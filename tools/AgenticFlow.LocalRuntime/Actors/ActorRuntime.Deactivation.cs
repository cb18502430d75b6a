using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>Deactivation: idle actors and actors whose placement moved are let go, each in its own turn.</summary>
public sealed partial class ActorRuntime
{
    /// <summary>Every second: hands over actors whose placement moved (a host joined or left); every scan
    /// interval: deactivates actors idle past their type's timeout. A busy actor is left for a later tick.</summary>
    private async Task ScanLoopAsync(CancellationToken ct)
    {
        var scan = Config.ScanInterval < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : Config.ScanInterval;
        using var timer = new PeriodicTimer(scan < TimeSpan.FromSeconds(1) ? scan : TimeSpan.FromSeconds(1));
        var nextIdleScan = Environment.TickCount64 + (long)scan.TotalMilliseconds;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    var now = Environment.TickCount64;
                    var idleScan = now >= nextIdleScan;
                    if (idleScan)
                    {
                        nextIdleScan = now + (long)scan.TotalMilliseconds;
                    }
                    foreach (var actor in _active.Values)
                    {
                        bool Due() => (idleScan && Environment.TickCount64 - actor.LastUsed > (long)Config.For(actor.Type).IdleTimeout.TotalMilliseconds)
                            || !IsLocal(actor.Type, actor.Id);
                        if (!actor.IsBusy && Due() && actor.TryEnter() is { } turn)
                        {
                            using (turn)
                            {
                                // Looked at again under the lock: a call may have used or moved it meanwhile.
                                if (!actor.Deactivated && Due())
                                {
                                    await DeactivateHeldAsync(actor);
                                }
                            }
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogWarning(ex, "The actor scan failed; it runs again at the next tick");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Takes the actor's turn, drops its timers and tells the app (<c>DELETE /actors/{type}/{id}</c>).</summary>
    public async Task DeactivateAsync(ActiveActor actor, CancellationToken ct)
    {
        using (await actor.EnterAsync(null, int.MaxValue, ct))
        {
            if (!actor.Deactivated)
            {
                await DeactivateHeldAsync(actor);
            }
        }
    }

    /// <summary>Deactivates an actor whose turn the caller holds.</summary>
    private async Task DeactivateHeldAsync(ActiveActor actor)
    {
        actor.Deactivated = true;
        _active.TryRemove(new KeyValuePair<(string, string), ActiveActor>((actor.Type, actor.Id), actor));
        lock (actor.Timers)
        {
            foreach (var timer in actor.Timers.Values)
            {
                timer.Cancel();
            }
            actor.Timers.Clear();
        }
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, AppPath(actor.Type, actor.Id, "").TrimEnd('/'));
            using var response = await _host.App!.SendAsync(request, CancellationToken.None);
            _logger.LogDebug("Deactivated actor {Type}/{Id} ({Status})", actor.Type, actor.Id, (int)response.StatusCode);
        }
        catch (HttpRequestException ex)
        {
            _logger.LogWarning("Could not tell the app to deactivate actor {Type}/{Id}: {Message}", actor.Type, actor.Id, ex.Message);
        }
    }
}
