using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace AgenticFlow.LocalRuntime.Peers;

/// <summary>Where a sidecar listens, the key another sidecar presents to forward calls to it, and the actor
/// types its app hosts (placement reads these).</summary>
public sealed record SidecarAddress(string AppId, string InstanceId, int HttpPort, int GrpcPort, int ProcessId, string PeerKey, IReadOnlyList<string>? ActorTypes = null, long StartedAt = 0, long ProcessStartedAt = 0)
{
    /// <summary>One sidecar among all of a machine's: app id and instance id together.</summary>
    public string Identity => AppId + "/" + InstanceId;
}

/// <summary>
/// Name resolution for sidecars on one machine (daprd uses mDNS for this): each sidecar writes a small file
/// into a folder only its user can read, and finds others by app-id there. Replicas of one app are picked
/// round-robin; entries of dead processes are ignored. A found set is reused for a second, and refreshed in the background.
/// </summary>
public sealed class NameRegistry
{
    /// <summary>How long a found set of sidecars is reused; a new replica is seen within this time.</summary>
    private const long CacheMilliseconds = 1000;

    private readonly string _folder;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long At, List<SidecarAddress> Live)> _cache = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _refreshing = new(StringComparer.Ordinal);
    private int _next;

    public NameRegistry(string? folder = null)
    {
        var chosen = folder ?? Environment.GetEnvironmentVariable("AGENTICFLOW_RESOLVER_DIR");
        if (chosen is null)
        {
            // The default lives under the shared temp folder: its parent is the runtime's own, made private first.
            var own = Path.Combine(Path.GetTempPath(), $"agenticflow-runtime-{Environment.UserName}");
            PrivateFolder.CreateOwn(own);
            chosen = Path.Combine(own, "apps");
        }
        _folder = chosen;
        PrivateFolder.Ensure(_folder);
    }

    public static string NewPeerKey() => Convert.ToHexString(RandomNumberGenerator.GetBytes(24));

    public string Register(SidecarAddress address)
    {
        var path = Path.Combine(_folder, $"{address.AppId}.{address.InstanceId}.json");
        PrivateFolder.WriteFile(path, JsonSerializer.Serialize(address));
        return path;
    }

    public SidecarAddress? Resolve(string appId)
    {
        var live = Instances(appId);
        return live.Count == 0 ? null : live[(int)((uint)Interlocked.Increment(ref _next) % live.Count)];
    }

    /// <summary>Every live sidecar of <paramref name="appId"/>, in a stable order; a found set is reused for a second.</summary>
    public IReadOnlyList<SidecarAddress> Instances(string appId) => Cached(appId, () => Read(appId));

    /// <summary>Every live sidecar whose app hosts <paramref name="actorType"/>, in a stable order; cached like <see cref="Instances"/>.
    /// The same list instance is handed out while the cache holds, so callers may key derived data on it.</summary>
    public IReadOnlyList<SidecarAddress> ActorHosts(string actorType) =>
        Cached("\0actors\0" + actorType, () => Read(null).Where(a => a.ActorTypes?.Contains(actorType, StringComparer.Ordinal) == true).ToList());

    /// <summary>
    /// Every call and actor call resolves its target, so the folder is not read on that path: a found set is
    /// handed out for a second, then handed out still while one background read replaces it (the read lists
    /// files and checks processes, which would otherwise stall the calls that happen to arrive at that moment).
    /// An empty result is not kept, so a sidecar that has just started is found on the next call.
    /// </summary>
    private IReadOnlyList<SidecarAddress> Cached(string key, Func<List<SidecarAddress>> read)
    {
        var now = Environment.TickCount64;
        if (_cache.TryGetValue(key, out var cached))
        {
            if (now - cached.At > CacheMilliseconds && _refreshing.TryAdd(key, true))
            {
                _ = Task.Run(() =>
                {
                    try
                    {
                        var fresh = read();
                        if (fresh.Count > 0)
                        {
                            _cache[key] = (Environment.TickCount64, fresh);
                        }
                        else
                        {
                            _cache.TryRemove(key, out _);
                        }
                    }
                    finally
                    {
                        _refreshing.TryRemove(key, out _);
                    }
                });
            }
            return cached.Live;
        }
        var found = read();
        if (found.Count > 0)
        {
            _cache[key] = (now, found);
        }
        return found;
    }

    /// <summary>Forgets what was found, so the next lookup reads the folder (after this sidecar's own entry changed).</summary>
    public void Refresh() => _cache.Clear();

    private List<SidecarAddress> Read(string? appId)
    {
        var live = new List<SidecarAddress>();
        foreach (var file in Directory.EnumerateFiles(_folder, (appId ?? "*") + ".*.json"))
        {
            try
            {
                var address = JsonSerializer.Deserialize<SidecarAddress>(File.ReadAllText(file));
                if (address is not null && (appId is null || address.AppId == appId) && IsAlive(address.ProcessId, address.ProcessStartedAt))
                {
                    live.Add(address);
                }
            }
            catch (Exception ex) when (ex is IOException or JsonException)
            {
                // Being rewritten or half-written: skip it this time.
            }
        }
        live.Sort((a, b) => string.CompareOrdinal(a.Identity, b.Identity));
        return live;
    }

    /// <summary>When this process started (Unix ms); a registry entry carries it, so an entry whose process died and
    /// whose id was reused by another process is not taken for a live sidecar.</summary>
    public static long ThisProcessStartedAt { get; } = StartTimeOf(Process.GetCurrentProcess());

    private static long StartTimeOf(Process process) => new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds();

    private static bool IsAlive(int pid, long startedAt)
    {
        if (pid == Environment.ProcessId)
        {
            return startedAt == 0 || startedAt == ThisProcessStartedAt;
        }
        try
        {
            using var p = Process.GetProcessById(pid);
            // Start times read from /proc are exact to a clock tick; a second apart is another process.
            return !p.HasExited && (startedAt == 0 || Math.Abs(StartTimeOf(p) - startedAt) < 1000);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
