using System.Text.Json;
using AgenticFlow.LocalRuntime.Json;

namespace AgenticFlow.LocalRuntime.PubSub;

public sealed record RoutingRule(string Match, string Path, RouteRule Rule);

/// <summary>One subscription of an app, from <c>GET /dapr/subscribe</c> or a declarative Subscription.</summary>
public sealed record TopicSubscription(
    string PubSubName,
    string Topic,
    string? DefaultRoute,
    IReadOnlyList<RoutingRule> Rules,
    string? DeadLetterTopic,
    IReadOnlyDictionary<string, string> Metadata,
    bool BulkEnabled,
    int BulkMaxMessages,
    int BulkMaxAwaitMs,
    string Kind)
{
    public bool RawPayload => Metadata.TryGetValue("rawPayload", out var raw) && string.Equals(raw, "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The app path an event goes to: the first rule that matches, else the default; null drops it.</summary>
    public string? RouteFor(JsonElement cloudEvent)
    {
        foreach (var rule in Rules)
        {
            if (rule.Rule.Matches(cloudEvent))
            {
                return rule.Path;
            }
        }
        return DefaultRoute;
    }

    public static TopicSubscription FromDeclarative(DeclarativeSubscription s) => new(
        s.PubSubName, s.Topic, Normalize(s.DefaultRoute ?? s.Route),
        s.Rules.Select(r => new RoutingRule(r.Match, Normalize(r.Path)!, RouteRule.Parse(r.Match))).ToList(),
        s.DeadLetterTopic, s.Metadata, s.BulkEnabled, s.BulkMaxMessages, s.BulkMaxAwaitMs, "declarative");

    /// <summary>Reads the JSON an app returns from <c>GET /dapr/subscribe</c> (the v1 <c>route</c> and v2 <c>routes</c> forms).</summary>
    public static List<TopicSubscription> FromProgrammatic(JsonElement array)
    {
        var list = new List<TopicSubscription>();
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("GET /dapr/subscribe must return a JSON array");
        }
        foreach (var item in array.EnumerateArray())
        {
            var pubsub = Str(item, "pubsubname") ?? throw new FormatException("a subscription has no pubsubname");
            var topic = Str(item, "topic") ?? throw new FormatException("a subscription has no topic");
            var rules = new List<RoutingRule>();
            var defaultRoute = Str(item, "route");
            if (item.TryGetField("routes", out var routes) && routes.ValueKind == JsonValueKind.Object)
            {
                defaultRoute = Str(routes, "default") ?? defaultRoute;
                if (routes.TryGetField("rules", out var ruleArray) && ruleArray.ValueKind == JsonValueKind.Array)
                {
                    foreach (var rule in ruleArray.EnumerateArray())
                    {
                        var match = Str(rule, "match") ?? "";
                        rules.Add(new RoutingRule(match, Normalize(Str(rule, "path"))!, RouteRule.Parse(match)));
                    }
                }
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (item.TryGetField("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in meta.EnumerateObject())
                {
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
                }
            }
            var bulkEnabled = false;
            int bulkMax = 100, bulkWait = 1000;
            if (item.TryGetField("bulkSubscribe", out var bulk) && bulk.ValueKind == JsonValueKind.Object)
            {
                bulkEnabled = bulk.TryGetField("enabled", out var en) && en.ValueKind == JsonValueKind.True;
                if (bulk.TryGetField("maxMessagesCount", out var m) && m.TryGetInt32(out var mv) && mv > 0) { bulkMax = mv; }
                if (bulk.TryGetField("maxAwaitDurationMs", out var w) && w.TryGetInt32(out var wv) && wv > 0) { bulkWait = wv; }
            }
            list.Add(new TopicSubscription(pubsub, topic, Normalize(defaultRoute), rules, Str(item, "deadLetterTopic"), metadata, bulkEnabled, bulkMax, bulkWait, "programmatic"));
        }
        return list;
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetField(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : null;

    private static string? Normalize(string? route) => route is null ? null : route.StartsWith('/') ? route : "/" + route;
}
