using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Net;
using AgenticFlow.Providers.Domain;
using Dapr.Client;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Clients;

/// <summary>A provider answered 429 or 5xx. Carries the Retry-After it sent, so retries and limits can honour it.</summary>
public sealed class ProviderHttpException(string providerId, HttpStatusCode status, TimeSpan? retryAfter)
    : Exception($"provider {providerId} answered {(int)status}")
{
    public string ProviderId { get; } = providerId;
    public HttpStatusCode Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>A provider's client could not be made (its key could not be read): the provider is unavailable, not the request wrong.</summary>
public sealed class ProviderUnavailableException(string providerId, Exception inner)
    : Exception($"provider {providerId} is unavailable: its client could not be made", inner)
{
    public string ProviderId { get; } = providerId;
}

/// <summary>
/// Makes one <see cref="IChatClient"/> per provider and model: the OpenAI SDK for OpenAI, Azure OpenAI (its v1
/// API), Ollama and any OpenAI-compatible endpoint; the Anthropic SDK for Anthropic; the local development client.
/// API keys are read from the Dapr secret store when a client is made and live only inside that client.
/// The SDKs' own retries are off: retries, breakers and fallback are the router's, and every 429/5xx reaches it
/// as a <see cref="ProviderHttpException"/> with its Retry-After.
/// </summary>
public sealed class ChatClientFactory(DaprClient dapr, IOptions<ProvidersOptions> options)
{
    private readonly ConcurrentDictionary<(string Provider, string Model, string Version), Lazy<Task<IChatClient>>> _clients = new();

    /// <summary>How long making a client (reading its key) may take; it does not depend on any one caller's patience.</summary>
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The client for a provider's model, made once and shared. Making it is not tied to the first caller's
    /// cancellation, and a failure is not kept: the next call tries again (a brief secret-store outage passes).
    /// A failure surfaces as <see cref="ProviderUnavailableException"/>, so routing falls back to the next provider.</summary>
    public async Task<IChatClient> GetAsync(ProviderSettings provider, string model, string version, CancellationToken ct)
    {
        var key = (provider.Id, model, version);
        var made = _clients.GetOrAdd(key, _ => new Lazy<Task<IChatClient>>(async () => GenAiInstrumentation.Instrument(await CreateAsync(provider, model))));
        try
        {
            // The caller waits at most the provider's own timeout; the making goes on for the next caller.
            return await made.Value.WaitAsync(TimeSpan.FromSeconds(provider.TimeoutSeconds), ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (made.Value.IsFaulted)
            {
                // A failure is kept briefly, so an outage of the secret store is not asked again by every request.
                _ = Task.Delay(FailureKeptFor).ContinueWith(_ => _clients.TryRemove(new KeyValuePair<(string, string, string), Lazy<Task<IChatClient>>>(key, made)), TaskScheduler.Default);
            }
            throw new ProviderUnavailableException(provider.Id, ex);
        }
    }

    /// <summary>How long a failure to make a client is answered from memory before the next try.</summary>
    private static readonly TimeSpan FailureKeptFor = TimeSpan.FromSeconds(5);

    private async Task<IChatClient> CreateAsync(ProviderSettings provider, string model)
    {
        using var timeout = new CancellationTokenSource(CreateTimeout);
        var ct = timeout.Token;
        if (provider.Kind == "local")
        {
            return new LocalChatClient(model);
        }
        var key = await ApiKeyAsync(provider, ct);
        var errors = new ProviderErrors(provider.Id) { InnerHandler = EndpointPolicy.Handler(options.Value) };
        var transportClient = new HttpClient(errors) { Timeout = Timeout.InfiniteTimeSpan };
        if (provider.Kind == "anthropic")
        {
            var anthropic = new Anthropic.AnthropicClient
            {
                ApiKey = key ?? "",
                BaseUrl = provider.Endpoint!.TrimEnd('/'),
                HttpClient = transportClient,
                MaxRetries = 0,
            };
            return anthropic.AsIChatClient(model);
        }
        var clientOptions = new OpenAI.OpenAIClientOptions
        {
            Endpoint = new Uri(provider.Endpoint!),
            Transport = new HttpClientPipelineTransport(transportClient),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(provider.TimeoutSeconds),
        };
        if (provider.Kind == "azure-openai" && key is not null)
        {
            // Azure OpenAI takes keys in an api-key header.
            clientOptions.AddPolicy(new AzureKeyPolicy(key), PipelinePosition.PerCall);
        }
        var credential = new ApiKeyCredential(key ?? "no-key");
        return new OpenAI.OpenAIClient(credential, clientOptions).GetChatClient(model).AsIChatClient();
    }

    private async Task<string?> ApiKeyAsync(ProviderSettings provider, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(provider.ApiKeySecret))
        {
            return null;
        }
        if (!provider.ApiKeySecret.StartsWith(options.Value.ApiKeySecretPrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"provider {provider.Id}: apiKeySecret must start with '{options.Value.ApiKeySecretPrefix}'");
        }
        var secret = await dapr.GetSecretAsync(options.Value.SecretStore, provider.ApiKeySecret, cancellationToken: ct);
        return secret.TryGetValue(provider.ApiKeySecret, out var value) ? value : secret.Values.FirstOrDefault();
    }

    /// <summary>Forgets the clients of a provider whose settings changed.</summary>
    public void Forget(string providerId)
    {
        foreach (var key in _clients.Keys.Where(k => k.Provider == providerId))
        {
            _clients.TryRemove(key, out _);
        }
    }

    private sealed class ProviderErrors(string providerId) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta
                    ?? (response.Headers.RetryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
                response.Dispose();
                throw new ProviderHttpException(providerId, response.StatusCode, retryAfter);
            }
            return response;
        }
    }

    private sealed class AzureKeyPolicy(string key) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", key);
            message.Request.Headers.Remove("Authorization");
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", key);
            message.Request.Headers.Remove("Authorization");
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
