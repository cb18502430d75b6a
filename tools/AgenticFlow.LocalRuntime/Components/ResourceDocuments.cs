using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.Timing;
using YamlDotNet.RepresentationModel;

namespace AgenticFlow.LocalRuntime.Components;

/// <summary>One metadata entry of a Dapr component: a literal value or a reference to a secret.</summary>
public sealed record MetadataItem(string Name, string? Value, string? SecretName, string? SecretKey);

/// <summary>A Dapr <c>Component</c> resource as read from YAML.</summary>
public sealed record ComponentSpec(
    string Name,
    string Type,
    string Version,
    IReadOnlyList<MetadataItem> Metadata,
    IReadOnlyList<string> Scopes,
    string? SecretStore,
    string SourceFile)
{
    /// <summary>The component's category: <c>state</c>, <c>pubsub</c>, <c>secretstores</c>, <c>bindings</c>.</summary>
    public string Category => Type.Split('.', 2)[0];

    public bool AppliesTo(string appId) => Scopes.Count == 0 || Scopes.Contains(appId, StringComparer.Ordinal);
}

/// <summary>Everything read from the resources paths: components, subscriptions, and pub/sub retry targets.</summary>
public sealed class ResourceSet
{
    public List<ComponentSpec> Components { get; } = [];
    public List<DeclarativeSubscription> Subscriptions { get; } = [];
    public Dictionary<string, RetryPolicy> InboundRetryByComponent { get; } = new(StringComparer.Ordinal);
}

/// <summary>Reads Dapr resource YAML (Component, Subscription, Resiliency) from folders or files.</summary>
public static class ResourceLoader
{
    public static ResourceSet Load(IEnumerable<string> paths)
    {
        var set = new ResourceSet();
        foreach (var path in paths)
        {
            IEnumerable<string> files = Directory.Exists(path)
                ? Directory.EnumerateFiles(path).Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal)
                : File.Exists(path) ? [path] : throw new ComponentException($"resources path '{path}' does not exist");
            foreach (var file in files)
            {
                LoadFile(file, set);
            }
        }

        var duplicate = set.Components.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ComponentException($"component '{duplicate.Key}' is defined twice: {string.Join(", ", duplicate.Select(c => c.SourceFile))}");
        }
        return set;
    }

    /// <summary>Reads the secret scopes (<c>spec.secrets.scopes</c>) of the Configuration at <paramref name="path"/>;
    /// no path means no Configuration, so every secret store is open.</summary>
    public static Secrets.SecretScopes LoadSecretScopes(string? path)
    {
        if (path is null)
        {
            return Secrets.SecretScopes.Open;
        }
        if (!File.Exists(path))
        {
            throw new ComponentException($"configuration file '{path}' does not exist");
        }
        var stream = ReadYaml(path);
        var scopes = new Dictionary<string, Secrets.SecretScope>(StringComparer.Ordinal);
        foreach (var root in stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Where(r => Scalar(r, "kind") == "Configuration"))
        {
            if (Child(Map(Map(root, "spec"), "secrets"), "scopes") is not YamlSequenceNode entries)
            {
                continue;
            }
            foreach (var entry in entries.Children.OfType<YamlMappingNode>())
            {
                var store = Scalar(entry, "storeName") ?? throw new ComponentException($"{path}: a secrets scope has no storeName");
                var access = Scalar(entry, "defaultAccess") ?? "allow";
                if (!access.Equals("allow", StringComparison.OrdinalIgnoreCase) && !access.Equals("deny", StringComparison.OrdinalIgnoreCase))
                {
                    throw new ComponentException($"{path}: secrets scope '{store}': defaultAccess must be allow or deny, not '{access}'");
                }
                scopes[store] = new Secrets.SecretScope(store, access.Equals("allow", StringComparison.OrdinalIgnoreCase),
                    Strings(entry, "allowedSecrets").ToHashSet(StringComparer.Ordinal), Strings(entry, "deniedSecrets").ToHashSet(StringComparer.Ordinal));
            }
        }
        return new Secrets.SecretScopes(scopes);
    }

    private static YamlStream ReadYaml(string file)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(file);
            stream.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new ComponentException($"{file}: invalid YAML at {YamlErrors.Describe(ex)}");
        }
        return stream;
    }

    private static void LoadFile(string file, ResourceSet set)
    {
        var stream = ReadYaml(file);

        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is not YamlMappingNode root)
            {
                continue;
            }
            var kind = Scalar(root, "kind");
            switch (kind)
            {
                case "Component":
                    set.Components.Add(ReadComponent(root, file));
                    break;
                case "Subscription":
                    set.Subscriptions.Add(ReadSubscription(root, file));
                    break;
                case "Resiliency":
                    ReadResiliency(root, set);
                    break;
                case "Configuration":
                case null:
                    break;
                default:
                    break;
            }
        }
    }

    private static ComponentSpec ReadComponent(YamlMappingNode root, string file)
    {
        var name = Scalar(Map(root, "metadata"), "name") ?? throw new ComponentException($"{file}: a Component has no metadata.name");
        var spec = Map(root, "spec") ?? throw new ComponentException($"{file}: component '{name}' has no spec");
        var type = Scalar(spec, "type") ?? throw new ComponentException($"{file}: component '{name}' has no spec.type");
        var items = new List<MetadataItem>();
        if (Child(spec, "metadata") is YamlSequenceNode seq)
        {
            foreach (var entry in seq.Children.OfType<YamlMappingNode>())
            {
                var itemName = Scalar(entry, "name") ?? throw new ComponentException($"{file}: component '{name}' has a metadata entry without a name");
                var secretRef = Map(entry, "secretKeyRef");
                items.Add(new MetadataItem(itemName, Scalar(entry, "value"), Scalar(secretRef, "name"), Scalar(secretRef, "key")));
            }
        }
        var secretStore = Scalar(Map(root, "auth"), "secretStore");
        return new ComponentSpec(name, type, Scalar(spec, "version") ?? "v1", items, Strings(root, "scopes"), secretStore, file);
    }

    private static DeclarativeSubscription ReadSubscription(YamlMappingNode root, string file)
    {
        var name = Scalar(Map(root, "metadata"), "name") ?? "subscription";
        var spec = Map(root, "spec") ?? throw new ComponentException($"{file}: subscription '{name}' has no spec");
        var rules = new List<(string, string)>();
        string? defaultRoute = null;
        var routes = Child(spec, "routes");
        if (routes is YamlMappingNode routeMap)
        {
            defaultRoute = Scalar(routeMap, "default");
            if (Child(routeMap, "rules") is YamlSequenceNode ruleSeq)
            {
                foreach (var rule in ruleSeq.Children.OfType<YamlMappingNode>())
                {
                    rules.Add((Scalar(rule, "match") ?? "", Scalar(rule, "path") ?? throw new ComponentException($"{file}: a routing rule has no path")));
                }
            }
        }
        var route = Scalar(spec, "route") ?? (routes is YamlScalarNode s ? s.Value : null);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Map(spec, "metadata") is { } meta)
        {
            foreach (var (k, v) in meta.Children)
            {
                metadata[((YamlScalarNode)k).Value!] = (v as YamlScalarNode)?.Value ?? "";
            }
        }
        var bulk = Map(spec, "bulkSubscribe");
        return new DeclarativeSubscription(
            name,
            Scalar(spec, "pubsubname") ?? throw new ComponentException($"{file}: subscription '{name}' has no pubsubname"),
            Scalar(spec, "topic") ?? throw new ComponentException($"{file}: subscription '{name}' has no topic"),
            route, rules, defaultRoute,
            Scalar(spec, "deadLetterTopic"),
            metadata,
            Strings(root, "scopes"),
            string.Equals(Scalar(bulk, "enabled"), "true", StringComparison.OrdinalIgnoreCase),
            int.TryParse(Scalar(bulk, "maxMessagesCount"), out var max) ? max : 100,
            int.TryParse(Scalar(bulk, "maxAwaitDurationMs"), out var wait) ? wait : 1000);
    }

    private static void ReadResiliency(YamlMappingNode root, ResourceSet set)
    {
        var spec = Map(root, "spec");
        var retries = Map(Map(spec, "policies"), "retries");
        var policies = new Dictionary<string, RetryPolicy>(StringComparer.Ordinal);
        if (retries is not null)
        {
            foreach (var (k, v) in retries.Children)
            {
                if (v is not YamlMappingNode p)
                {
                    continue;
                }
                var kind = Scalar(p, "policy") ?? "constant";
                policies[((YamlScalarNode)k).Value!] = new RetryPolicy(
                    kind,
                    // As daprd: duration applies to constant policies (default 5s); exponential ones start at 500 ms.
                    kind == "exponential" ? RetryPolicy.ExponentialStart : DurationParser.Parse(Scalar(p, "duration") ?? "5s"),
                    DurationParser.Parse(Scalar(p, "maxInterval") ?? "60s"),
                    int.TryParse(Scalar(p, "maxRetries"), out var n) ? n : -1);
            }
        }
        var components = Map(Map(spec, "targets"), "components");
        if (components is null)
        {
            return;
        }
        foreach (var (k, v) in components.Children)
        {
            var retryName = Scalar(Map(v as YamlMappingNode, "inbound"), "retry");
            if (retryName is not null && policies.TryGetValue(retryName, out var policy))
            {
                set.InboundRetryByComponent[((YamlScalarNode)k).Value!] = policy;
            }
        }
    }

    private static YamlNode? Child(YamlMappingNode? node, string key) =>
        node is not null && node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    private static YamlMappingNode? Map(YamlMappingNode? node, string key) => Child(node, key) as YamlMappingNode;

    private static string? Scalar(YamlMappingNode? node, string key) => (Child(node, key) as YamlScalarNode)?.Value;

    private static List<string> Strings(YamlMappingNode node, string key) =>
        Child(node, key) is YamlSequenceNode seq ? seq.Children.OfType<YamlScalarNode>().Select(s => s.Value!).ToList() : [];
}

public sealed class ComponentException(string message) : Exception(message);

public static class YamlErrors
{
    /// <summary>Where a YAML file stops parsing and why, for a one-line message: <c>line 3, column 7: did not find ...</c>.</summary>
    public static string Describe(YamlDotNet.Core.YamlException ex) =>
        $"line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message.TrimEnd('.')}";
}

