namespace AgenticFlow.LocalRuntime.Tests.Infrastructure;

/// <summary>A temporary resources folder of Component YAML, written the way users write theirs.</summary>
public sealed class ComponentsFolder : IDisposable
{
    public ComponentsFolder()
    {
        Path = Directory.CreateTempSubdirectory("agenticflow-components-").FullName;
    }

    public string Path { get; }

    /// <summary>Extra state metadata that marks the store as the actor state store (actors and workflows need one).</summary>
    public const string ActorStateStore = "  - name: actorStateStore\n    value: \"true\"\n";

    public ComponentsFolder Add(string fileName, string yaml)
    {
        File.WriteAllText(System.IO.Path.Combine(Path, fileName), yaml);
        return this;
    }

    public ComponentsFolder State(string kind, string name = "statestore", string extraMetadata = "") => Add($"{name}.yaml", $"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: {StateType(kind)}
          version: v1
          metadata:
        {StateMetadata(kind)}{extraMetadata}
        """);

    public ComponentsFolder PubSub(string kind, string name = "pubsub", string extraMetadata = "") => Add($"{name}.yaml", $"""
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata:
          name: {name}
        spec:
          type: pubsub.{kind}
          version: v1
          metadata:
          - name: concurrency
            value: "1"
        {(kind == "redis" ? $"  - name: redisHost\n    value: \"{TestServers.Redis}\"\n  - name: processingTimeout\n    value: 2s\n  - name: redeliverInterval\n    value: 500ms\n" : "")}{extraMetadata}
        """);

    /// <summary>A <c>secretstores.local.file</c> component named <c>secretstore</c> over the given JSON.</summary>
    public ComponentsFolder SecretStore(string secretsJson)
    {
        var file = System.IO.Path.Combine(Path, "secrets.json");
        File.WriteAllText(file, secretsJson);
        return Add("secretstore.yaml", $"""
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: secretstore
            spec:
              type: secretstores.local.file
              version: v1
              metadata:
              - name: secretsFile
                value: "{file}"
            """);
    }

    /// <summary>Fast retries so retry and dead-letter tests finish quickly.</summary>
    public ComponentsFolder FastRetries(string pubsubName = "pubsub", int maxRetries = 2) => Add("resiliency.yaml", $"""
        apiVersion: dapr.io/v1alpha1
        kind: Resiliency
        metadata:
          name: fast
        spec:
          policies:
            retries:
              quick:
                policy: constant
                duration: 50ms
                maxRetries: {maxRetries}
          targets:
            components:
              {pubsubName}:
                inbound:
                  retry: quick
        """);

    private string StateType(string kind) => kind switch
    {
        "in-memory" => "state.in-memory",
        "sqlite" => "state.sqlite",
        "redis" => "state.redis",
        "postgresql" => "state.postgresql",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private string StateMetadata(string kind) => kind switch
    {
        "in-memory" => "  - name: unused\n    value: \"\"\n",
        "sqlite" => $"  - name: connectionString\n    value: \"{System.IO.Path.Combine(Path, "state.db")}\"\n",
        "redis" => $"  - name: redisHost\n    value: \"{TestServers.Redis}\"\n",
        "postgresql" => $"  - name: connectionString\n    value: \"{TestServers.Postgres}\"\n",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
