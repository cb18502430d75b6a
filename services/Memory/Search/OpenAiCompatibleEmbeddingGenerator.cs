using System.ClientModel;
using Dapr.Client;
using Microsoft.Extensions.AI;
using OpenAI;

namespace AgenticFlow.Memory.Search;

/// <summary>
/// Embeddings from any OpenAI-compatible <c>/embeddings</c> endpoint (OpenAI, Azure OpenAI's v1 API, Ollama, a local
/// server), chosen by configuration instead of the in-process model. The API key is read from the Dapr secret store
/// by name on first use, never from configuration.
/// </summary>
public sealed class OpenAiCompatibleEmbeddingGenerator(EmbeddingOptions options, DaprClient dapr, string secretStore) : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IEmbeddingGenerator<string, Embedding<float>>? _inner;
    private readonly EmbeddingGeneratorMetadata _metadata = new("openai-compatible", options.Endpoint is null ? null : new Uri(options.Endpoint), options.Model, options.Dimensions);

    private async Task<IEmbeddingGenerator<string, Embedding<float>>> InnerAsync(CancellationToken ct)
    {
        if (_inner is not null)
        {
            return _inner;
        }
        await _gate.WaitAsync(ct);
        try
        {
            if (_inner is null)
            {
                var key = "unused";
                if (options.ApiKeySecret is { Length: > 0 } secret)
                {
                    var values = await dapr.GetSecretAsync(secretStore, secret, cancellationToken: ct);
                    key = values.TryGetValue(secret, out var v) ? v : values.Values.FirstOrDefault() ?? key;
                }
                var client = new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(options.Endpoint!) });
                _inner = client.GetEmbeddingClient(options.Model!).AsIEmbeddingGenerator(options.Dimensions);
            }
            return _inner;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? generationOptions = null, CancellationToken cancellationToken = default) =>
        await (await InnerAsync(cancellationToken)).GenerateAsync(values, generationOptions, cancellationToken);

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() => _inner?.Dispose();
}
