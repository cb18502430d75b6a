using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Gateway;

public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Dapr secret store holding the API key table and the JWT signing key.</summary>
    [Required]
    public string SecretStore { get; set; } = "secretstore";

    /// <summary>Secret whose value is a JSON array of keys: name, sha256 (hex of the key), roles, optional agentId.</summary>
    [Required]
    public string ApiKeysSecret { get; set; } = "gateway-api-keys";

    /// <summary>Secret holding the base64 HMAC-SHA256 key that signs accepted JWTs; empty turns JWT off.</summary>
    public string? JwtSigningKeySecret { get; set; } = "gateway-jwt-signing-key";

    public string JwtIssuer { get; set; } = "agenticflow";
    public string JwtAudience { get; set; } = "agenticflow-api";

    /// <summary>Token bucket per client: requests per second, and the burst above it.</summary>
    [Range(1, 1_000_000)]
    public int RequestsPerSecond { get; set; } = 200;

    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 400;

    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    [Range(1, 3600)]
    public int SecretRefreshSeconds { get; set; } = 60;

    /// <summary>The address clients reach the gateway at (scheme, host, port and any path prefix of the ingress): the
    /// base of every URL the gateway hands out, such as A2A agent cards'. Never taken from a request's Host header,
    /// which the client chooses. The default is where tools/run.sh serves the gateway.</summary>
    [Required, Url]
    public string PublicBaseUrl { get; set; } = "http://127.0.0.1:8080";

    /// <summary><see cref="PublicBaseUrl"/> without a trailing slash, for appending absolute paths.</summary>
    public string PublicBase => PublicBaseUrl.TrimEnd('/');
}
