using System.Net;
using AgenticFlow.LocalRuntime.Errors;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>
/// One activation of an actor in this sidecar: its turn lock, its timers, and when it was last used.
/// A turn is one method call, timer or reminder delivered to the app; turns never overlap, except that a call
/// carrying the reentrancy id of the turn in progress joins it (up to the type's <c>maxStackDepth</c>).
/// </summary>
public sealed class ActiveActor(string type, string id)
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Lock _gate = new();
    private string? _holder;
    private int _depth;

    public string Type { get; } = type;
    public string Id { get; } = id;
    public long LastUsed { get; private set; } = Environment.TickCount64;
    public bool Deactivated { get; set; }
    public bool IsBusy => _lock.CurrentCount == 0;
    public Dictionary<string, CancellationTokenSource> Timers { get; } = new(StringComparer.Ordinal);

    /// <summary>Turns delivered to the app; 0 until the first one activates the actor there. Changed under the turn lock.</summary>
    public int Turns { get; set; }

    /// <summary>The actor's turn if it is free right now, else null (for the scan, which never waits).</summary>
    public Turn? TryEnter()
    {
        if (!_lock.Wait(0))
        {
            return null;
        }
        lock (_gate)
        {
            _holder = null;
            _depth = 1;
        }
        return new Turn(this);
    }

    /// <summary>Waits for the actor's turn. With a reentrancy id equal to the running turn's, the call joins that turn.</summary>
    public async Task<Turn> EnterAsync(string? reentrancyId, int maxStackDepth, CancellationToken ct)
    {
        if (reentrancyId is not null)
        {
            lock (_gate)
            {
                if (_depth > 0 && _holder == reentrancyId)
                {
                    if (_depth >= maxStackDepth)
                    {
                        throw new DaprError(HttpStatusCode.InternalServerError, Grpc.Core.StatusCode.Internal, "ERR_ACTOR_INVOKE_METHOD",
                            $"error invoke actor method: maximum stack depth exceeded ({maxStackDepth}) for reentrant calls to {Type}/{Id}");
                    }
                    _depth++;
                    return new Turn(this);
                }
            }
        }
        await _lock.WaitAsync(ct);
        lock (_gate)
        {
            _holder = reentrancyId;
            _depth = 1;
        }
        return new Turn(this);
    }

    private void Exit()
    {
        lock (_gate)
        {
            LastUsed = Environment.TickCount64;
            if (--_depth > 0)
            {
                return;
            }
            _holder = null;
        }
        _lock.Release();
    }

    public readonly struct Turn(ActiveActor actor) : IDisposable
    {
        public void Dispose() => actor.Exit();
    }
}
