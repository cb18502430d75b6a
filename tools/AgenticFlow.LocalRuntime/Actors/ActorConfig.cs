using System.Text.Json;
using AgenticFlow.LocalRuntime.Json;

namespace AgenticFlow.LocalRuntime.Actors;

/// <summary>Settings of one actor type, from the app's <c>GET /dapr/config</c> (top level, or its <c>entitiesConfig</c> entry).</summary>
public sealed record ActorTypeSettings(TimeSpan IdleTimeout, bool Reentrancy, int MaxStackDepth);

/// <summary>
/// What an app answers to <c>GET /dapr/config</c>: the actor types it hosts and how they behave. Defaults are
/// daprd's: idle timeout 60 minutes, scan every 30 seconds, drain 60 seconds, reentrancy off with depth 32.
/// </summary>
public sealed record ActorConfig(
    IReadOnlyList<string> Types,
    TimeSpan ScanInterval,
    TimeSpan DrainTimeout,
    ActorTypeSettings Defaults,
    IReadOnlyDictionary<string, ActorTypeSettings> PerType)
{
    public static readonly ActorConfig None = new([], TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), new ActorTypeSettings(TimeSpan.FromMinutes(60), false, 32), new Dictionary<string, ActorTypeSettings>());

    public ActorTypeSettings For(string type) => PerType.TryGetValue(type, out var s) ? s : Defaults;

    public static ActorConfig Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the app's /dapr/config is not a JSON object");
        }
        var types = root.TryGetField("entities", out var entities) && entities.ValueKind == JsonValueKind.Array
            ? entities.EnumerateArray().Select(e => e.GetString() ?? throw new FormatException("an actor type name is not a string")).Distinct(StringComparer.Ordinal).ToList()
            : [];
        var defaults = ReadSettings(root, None.Defaults);
        var perType = new Dictionary<string, ActorTypeSettings>(StringComparer.Ordinal);
        if (root.TryGetField("entitiesConfig", out var configs) && configs.ValueKind == JsonValueKind.Array)
        {
            foreach (var config in configs.EnumerateArray())
            {
                var settings = ReadSettings(config, defaults);
                if (config.TryGetField("entities", out var names) && names.ValueKind == JsonValueKind.Array)
                {
                    foreach (var name in names.EnumerateArray())
                    {
                        perType[name.GetString() ?? ""] = settings;
                    }
                }
            }
        }
        return new ActorConfig(
            types,
            Duration(root, "actorScanInterval") ?? None.ScanInterval,
            Duration(root, "drainOngoingCallTimeout") ?? None.DrainTimeout,
            defaults,
            perType);
    }

    private static ActorTypeSettings ReadSettings(JsonElement element, ActorTypeSettings fallback)
    {
        var reentrant = fallback.Reentrancy;
        var depth = fallback.MaxStackDepth;
        if (element.TryGetField("reentrancy", out var reentrancy) && reentrancy.ValueKind == JsonValueKind.Object)
        {
            if (reentrancy.TryGetField("enabled", out var enabled) && enabled.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                reentrant = enabled.GetBoolean();
            }
            if (reentrancy.TryGetField("maxStackDepth", out var max) && max.ValueKind == JsonValueKind.Number)
            {
                depth = max.GetInt32() > 0 ? max.GetInt32() : throw new FormatException("reentrancy.maxStackDepth must be positive");
            }
        }
        return new ActorTypeSettings(Duration(element, "actorIdleTimeout") ?? fallback.IdleTimeout, reentrant, depth);
    }

    private static TimeSpan? Duration(JsonElement element, string name) =>
        element.TryGetField(name, out var value) && value.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(value.GetString())
            ? ActorDurations.ParseDuration(value.GetString()!)
            : null;
}
