using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Memory;

public sealed class MemoryOptions
{
    public const string Section = "Memory";

    /// <summary>Dapr state component holding memories, the graph and the cache (Cassandra in Kubernetes: get/set/delete and TTL only).</summary>
    [Required]
    public string StateStore { get; set; } = "statestore";

    [Required]
    public string PubSub { get; set; } = "pubsub";

    /// <summary>Where the HNSW index is saved. It is derived data: lost or stale, it is rebuilt from the stored memories.</summary>
    [Required]
    public string IndexPath { get; set; } = ".data/memory/memory-index.usearch";

    /// <summary>How often a changed index is saved to <see cref="IndexPath"/> (and at shutdown).</summary>
    [Range(1, 3600)]
    public int IndexSaveSeconds { get; set; } = 5;

    /// <summary>How often expired memories leave the indexes and the agents' lists.</summary>
    [Range(1, 3600)]
    public int SweepSeconds { get; set; } = 5;

    /// <summary>A filtered query over at most this many memories scores every one exactly instead of asking the HNSW graph.</summary>
    [Range(0, 1_000_000)]
    public int ExactSearchBelow { get; set; } = 2_048;

    [Range(1, 100_000)]
    public int MaxContentChars { get; set; } = 8_000;

    /// <summary>Predicates that hold one object at a time per subject: a new edge closes the open one with another object.</summary>
    public List<string> SingleValuedPredicates { get; set; } = ["works_at", "lives_in", "located_in", "reports_to", "status", "role", "owned_by", "assigned_to"];

    public EmbeddingOptions Embeddings { get; set; } = new();

    public ExtractionOptions Extraction { get; set; } = new();
}

/// <summary>Entities and relations read from a memory's text by an LLM through the providers service, after the
/// memory is stored (an event-driven worker, never in the write path), marked <c>extracted</c> in the graph.</summary>
public sealed class ExtractionOptions
{
    /// <summary>Off by default: every stored memory then costs an LLM call. A memory can opt out with <c>extract: false</c>.</summary>
    public bool Enabled { get; set; }

    /// <summary>The app id of the providers service, reached by Dapr service invocation.</summary>
    [Required]
    public string ProvidersAppId { get; set; } = "providers";

    /// <summary>A model class or name for the providers service's routing; empty for its default.</summary>
    public string? Model { get; set; }
}

/// <summary>Which <c>IEmbeddingGenerator</c> embeds text: the in-process MiniLM model, or any OpenAI-compatible embeddings endpoint.</summary>
public sealed class EmbeddingOptions
{
    /// <summary><c>minilm</c> (in-process all-MiniLM-L6-v2, 384 dimensions) or <c>openai-compatible</c>.</summary>
    [Required]
    public string Kind { get; set; } = "minilm";

    public string? Endpoint { get; set; }

    public string? Model { get; set; }

    /// <summary>Name of the secret (in the Dapr secret store) holding the endpoint's API key.</summary>
    public string? ApiKeySecret { get; set; }

    [Range(1, 8192)]
    public int Dimensions { get; set; } = 384;

    /// <summary>Load the in-process model (~1.4 s, ~330 MB) at start, in the background, instead of on the first write
    /// or query. On in dapr.yaml and Kubernetes; off by default so that a process that never embeds never pays for it.</summary>
    public bool WarmUp { get; set; }
}
