namespace AgenticFlow.LocalRuntime.PubSub;

/// <summary>A declarative Dapr <c>Subscription</c> resource (v1alpha1 or v2alpha1).</summary>
public sealed record DeclarativeSubscription(
    string Name,
    string PubSubName,
    string Topic,
    string? Route,
    IReadOnlyList<(string Match, string Path)> Rules,
    string? DefaultRoute,
    string? DeadLetterTopic,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<string> Scopes,
    bool BulkEnabled,
    int BulkMaxMessages,
    int BulkMaxAwaitMs);
