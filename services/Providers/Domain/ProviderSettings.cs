using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Providers.Domain;

/// <summary>One model a provider serves, with its price per million tokens and what it can do.</summary>
public sealed class ModelSettings
{
    [Required]
    public string Name { get; set; } = "";

    /// <summary>A model class callers may ask for instead of a name (for example "small", "large").</summary>
    public string? Class { get; set; }

    [Range(0, 10_000)]
    public decimal InputPricePer1M { get; set; }

    [Range(0, 10_000)]
    public decimal OutputPricePer1M { get; set; }

    /// <summary>Features: "tools", "json".</summary>
    public List<string> Features { get; set; } = [];
}

/// <summary>A provider as data: where it is, which models, what they cost, its limits and its place in routing.</summary>
public sealed class ProviderSettings
{
    public static readonly string[] Kinds = ["openai", "azure-openai", "anthropic", "ollama", "openai-compatible", "local"];

    [Required, RegularExpression("^[a-z0-9][a-z0-9-]{0,62}$")]
    public string Id { get; set; } = "";

    [Required]
    public string Kind { get; set; } = "";

    /// <summary>Base address of the API (for OpenAI-style APIs, the one ending in /v1).</summary>
    public string? Endpoint { get; set; }

    /// <summary>Name of the secret in the Dapr secret store that holds the API key; never the key itself.</summary>
    public string? ApiKeySecret { get; set; }

    [MinLength(1)]
    public List<ModelSettings> Models { get; set; } = [];

    /// <summary>Requests and tokens per minute this provider accepts from the platform; 0 means no limit.</summary>
    [Range(0, 10_000_000)]
    public int Rpm { get; set; }

    [Range(0, 1_000_000_000)]
    public int Tpm { get; set; }

    /// <summary>Lower is tried first by the priority strategy.</summary>
    public int Priority { get; set; } = 100;

    [Range(0, 1000)]
    public int Weight { get; set; } = 1;

    public bool Enabled { get; set; } = true;

    [Range(1, 600)]
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>True for the built-in local provider: deterministic answers for development, no network.</summary>
    public bool IsDevelopment => Kind == "local";

    /// <summary>What is wrong with these settings under the service's <paramref name="policy"/>: kinds, endpoint,
    /// the secret naming rule for API keys, models, prices and limits.</summary>
    public IEnumerable<string> Validate(ProvidersOptions policy)
    {
        if (!string.IsNullOrEmpty(ApiKeySecret) && !ApiKeySecret.StartsWith(policy.ApiKeySecretPrefix, StringComparison.Ordinal))
        {
            yield return $"apiKeySecret must name a secret starting with '{policy.ApiKeySecretPrefix}' (Providers:ApiKeySecretPrefix)";
        }
        if (Kind != "local")
        {
            foreach (var problem in EndpointPolicy.Check(Endpoint, policy))
            {
                yield return problem;
            }
        }
        if (!Kinds.Contains(Kind))
        {
            yield return $"kind must be one of {string.Join(", ", Kinds)}";
        }
        if (Kind != "local" && !Uri.TryCreate(Endpoint, UriKind.Absolute, out _))
        {
            yield return "endpoint must be an absolute URL";
        }
        if (Models is not { Count: > 0 } || Models.Any(m => string.IsNullOrWhiteSpace(m?.Name)))
        {
            yield return "models must name at least one model, each with a name";
            yield break;
        }
        if (Models.Any(m => m.InputPricePer1M < 0 || m.OutputPricePer1M < 0))
        {
            yield return "prices must not be negative";
        }
        if (Models.Any(m => m.Features is null || m.Features.Any(f => f is null)))
        {
            yield return "a model's features are a list of names";
        }
        if (Rpm < 0 || Tpm < 0 || Weight < 0 || TimeoutSeconds is < 1 or > 600)
        {
            yield return "rpm, tpm and weight must not be negative; timeoutSeconds is 1-600";
        }
    }
}

public sealed class ProvidersOptions
{
    public const string Section = "Providers";

    [Required]
    public string StateStore { get; set; } = "statestore";

    [Required]
    public string SecretStore { get; set; } = "secretstore";

    [Required]
    public string PubSub { get; set; } = "pubsub";

    public List<ProviderSettings> Items { get; set; } = [];

    /// <summary>Per caller (agent or team) requests and tokens per minute; 0 means no limit.</summary>
    [Range(0, 10_000_000)]
    public int CallerRpm { get; set; } = 600;

    [Range(0, 1_000_000_000)]
    public int CallerTpm { get; set; } = 1_000_000;

    /// <summary>Default spend per caller per UTC day, in USD; 0 means no budget. Budgets by caller override it.</summary>
    [Range(0, 1_000_000)]
    public decimal DailyBudgetUsd { get; set; } = 50;

    public Dictionary<string, decimal> Budgets { get; set; } = [];

    /// <summary>
    /// How old the other replicas' spend may be when a budget is checked (this replica's own spend is always exact):
    /// a budget can be overrun by what other replicas spend within this many seconds. 0 reads it on every call.
    /// </summary>
    [Range(0, 300)]
    public int SpendRefreshSeconds { get; set; } = 2;

    [Range(1, 1_000_000)]
    public int MaxPromptCharacters { get; set; } = 400_000;

    /// <summary>Circuit breaker: failure ratio over the sampling window that opens it, and how long it stays open.</summary>
    [Range(0.01, 1)]
    public double BreakerFailureRatio { get; set; } = 0.5;

    [Range(2, 1000)]
    public int BreakerMinimumThroughput { get; set; } = 4;

    [Range(1, 3600)]
    public int BreakerSeconds { get; set; } = 30;

    [Range(0, 10)]
    public int Retries { get; set; } = 2;

    /// <summary>Provider API keys are read only from secrets whose names start with this, so no provider setting
    /// can make the service read (and send out) another secret of the store.</summary>
    [Required, MinLength(1)]
    public string ApiKeySecretPrefix { get; set; } = "provider-";

    /// <summary>Allow provider endpoints on loopback, link-local and private addresses (a local Ollama, a test server).</summary>
    public bool AllowPrivateEndpoints { get; set; }

    /// <summary>When set, the only hosts provider endpoints may name.</summary>
    public List<string> AllowedEndpointHosts { get; set; } = [];

    /// <summary>Distinct values of the agent attribute (<c>agenticflow.agent.id</c>) the GenAI metrics carry in this
    /// process; callers first seen after that are counted as <c>other</c> (see <see cref="AgentLabels"/>).</summary>
    [Range(1, 100_000)]
    public int MaxAgentLabels { get; set; } = 1000;
}
