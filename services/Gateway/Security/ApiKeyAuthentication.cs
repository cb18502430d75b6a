using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Gateway.Security;

/// <summary>Authenticates <c>X-Api-Key: KEY</c> or <c>Authorization: ApiKey KEY</c> against the hashed key table.</summary>
public sealed class ApiKeyAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, Credentials credentials)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    public static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue("X-Api-Key", out var header) && header.ToString() is { Length: > 0 } key)
        {
            return key;
        }
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(SchemeName + " ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization[(SchemeName.Length + 1)..].Trim();
        }
        // OpenAI clients send their key as a bearer token; one that is not a JWT is an API key.
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && !GatewayExtensions.IsJwtBearer(authorization)
            ? authorization[7..].Trim()
            : null;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }
        await credentials.WhenLoaded(TimeSpan.FromSeconds(5));
        var entry = credentials.FindApiKey(presented);
        if (entry is null)
        {
            return AuthenticateResult.Fail("unknown API key");
        }
        var claims = new List<Claim> { new(ClaimTypes.Name, entry.Name) };
        claims.AddRange(entry.Roles.Select(r => new Claim(ClaimTypes.Role, r)));
        if (entry.AgentId is { Length: > 0 } agent)
        {
            claims.Add(new Claim(Roles.AgentIdClaim, agent));
        }
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }
}
