using AgenticFlow.Memory.Domain;
using AgenticFlow.Memory.Graph;
using AgenticFlow.Memory.Search;
using AgenticFlow.Memory.Storage;
using Dapr.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Memory;

public static class Extensions
{
    public const string SecretStore = "secretstore";

    public static IHostApplicationBuilder AddMemory(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MemoryOptions>()
            .BindConfiguration(MemoryOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Embeddings.Kind is "minilm" || (o.Embeddings.Kind is "openai-compatible" && Uri.TryCreate(o.Embeddings.Endpoint, UriKind.Absolute, out _) && !string.IsNullOrEmpty(o.Embeddings.Model)),
                "Memory:Embeddings:Kind must be minilm, or openai-compatible with an absolute Endpoint and a Model")
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(EmbeddingGenerator);
        builder.Services.AddSingleton(sp => new VectorIndex(Dimensions(sp.GetRequiredService<IOptions<MemoryOptions>>().Value)));
        builder.Services.AddSingleton<KeywordIndex>();
        builder.Services.AddSingleton<MemoryIndex>();
        builder.Services.AddSingleton(sp => new SegmentedLists(sp.GetRequiredService<DaprClient>(), sp.GetRequiredService<IOptions<MemoryOptions>>().Value.StateStore));
        builder.Services.AddSingleton<MemoryStore>();
        builder.Services.AddSingleton<GraphStore>();
        builder.Services.AddSingleton<CacheStore>();
        builder.Services.AddSingleton<MemoryService>();
        builder.Services.AddSingleton<QueryEngine>();
        builder.Services.AddSingleton<GraphExtractor>();
        builder.Services.AddSingleton<MemoryLoad>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MemoryLoad>());
        builder.Services.AddHealthChecks().AddCheck<MemoryLoadedCheck>("memory-loaded", tags: [ServiceDefaults.Extensions.ReadyTag]);
        return builder;
    }

    private static int Dimensions(MemoryOptions o) => o.Embeddings.Kind == "minilm" ? MiniLmEmbeddingGenerator.Dimensions : o.Embeddings.Dimensions;

    /// <summary>The in-process MiniLM model by default; an OpenAI-compatible endpoint when configured.</summary>
    private static IEmbeddingGenerator<string, Embedding<float>> EmbeddingGenerator(IServiceProvider sp)
    {
        var o = sp.GetRequiredService<IOptions<MemoryOptions>>().Value.Embeddings;
        return o.Kind == "minilm"
            ? new MiniLmEmbeddingGenerator()
            : new OpenAiCompatibleEmbeddingGenerator(o, sp.GetRequiredService<DaprClient>(), SecretStore);
    }
}

/// <summary>Ready once the stored memories are indexed (requests that come earlier wait for it).</summary>
public sealed class MemoryLoadedCheck(MemoryLoad load) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(load.IsReady
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("memories indexed")
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("loading memories"));
}
