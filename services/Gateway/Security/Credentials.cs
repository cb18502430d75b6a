using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapr.Client;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AgenticFlow.Gateway.Security;

public static class Roles
{
    public const string Admin = AgenticFlow.ServiceDefaults.CallerIdentity.Admin;
    public const string Operator = AgenticFlow.ServiceDefaults.CallerIdentity.Operator;
    public const string Agent = AgenticFlow.ServiceDefaults.CallerIdentity.Agent;
    public const string Viewer = AgenticFlow.ServiceDefaults.CallerIdentity.Viewer;
    public static readonly IReadOnlyList<string> All = [Admin, Operator, Agent, Viewer];

    public const string AgentIdClaim = "agent_id";
}

/// <summary>One API key as the secret store holds it: only the SHA-256 of the key, never the key.</summary>
public sealed record ApiKeyEntry(string Name, string Sha256, string[] Roles, string? AgentId);

/// <summary>
/// The API key table and the JWT signing key, read from the Dapr secret store and re-read periodically, so keys
/// can be rotated without a restart. Until the first read succeeds every credential is refused.
/// </summary>
public sealed partial class Credentials(DaprClient dapr, IOptions<GatewayOptions> options, ILogger<Credentials> logger) : BackgroundService
{
    private volatile IReadOnlyDictionary<string, ApiKeyEntry> _keys = new Dictionary<string, ApiKeyEntry>();
    private volatile SecurityKey[] _signingKeys = [];
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public ApiKeyEntry? FindApiKey(string presented) => _keys.GetValueOrDefault(Hash(presented));

    public IEnumerable<SecurityKey> SigningKeys => _signingKeys;

    /// <summary>Waits briefly for the first load, so requests right after start are not refused needlessly.</summary>
    public Task WhenLoaded(TimeSpan timeout) => _loaded.Task.WaitAsync(timeout).ContinueWith(_ => { }, TaskScheduler.Default);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await LoadAsync(settings, stoppingToken);
                _loaded.TrySetResult();
                await Task.Delay(TimeSpan.FromSeconds(settings.SecretRefreshSeconds), stoppingToken);
            }
            catch (Exception ex) when (ex is Dapr.DaprException or JsonException or FormatException or HttpRequestException)
            {
                LogLoadFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(_loaded.Task.IsCompleted ? settings.SecretRefreshSeconds : 1), stoppingToken);
            }
        }
    }

    private async Task LoadAsync(GatewayOptions settings, CancellationToken ct)
    {
        var secret = await dapr.GetSecretAsync(settings.SecretStore, settings.ApiKeysSecret, cancellationToken: ct);
        var entries = JsonSerializer.Deserialize<ApiKeyEntry[]>(secret.Values.Single(), JsonSerializerOptions.Web) ?? [];
        foreach (var entry in entries)
        {
            if (entry.Sha256.Length != 64 || entry.Roles.Any(r => !Roles.All.Contains(r)))
            {
                throw new FormatException($"API key '{entry.Name}' needs a 64-hex-digit sha256 and roles from {string.Join(", ", Roles.All)}");
            }
            if (entry.Roles.Contains(Roles.Agent) && string.IsNullOrEmpty(entry.AgentId))
            {
                throw new FormatException($"API key '{entry.Name}' has the agent role but no agentId: an agent key acts for one agent");
            }
        }
        _keys = entries.ToDictionary(e => e.Sha256.ToLowerInvariant());
        if (!string.IsNullOrEmpty(settings.JwtSigningKeySecret))
        {
            var key = await dapr.GetSecretAsync(settings.SecretStore, settings.JwtSigningKeySecret, cancellationToken: ct);
            var bytes = Convert.FromBase64String(key.Values.Single());
            if (bytes.Length < 32)
            {
                throw new FormatException("the JWT signing key must be at least 256 bits");
            }
            _signingKeys = [new SymmetricSecurityKey(bytes)];
        }
        LogLoaded(_keys.Count, _signingKeys.Length);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading gateway credentials from the secret store failed; retrying")]
    private partial void LogLoadFailed(Exception ex);

    [LoggerMessage(Level = LogLevel.Information, Message = "Gateway credentials loaded: {Keys} API keys, {SigningKeys} JWT signing keys")]
    private partial void LogLoaded(int keys, int signingKeys);
}
