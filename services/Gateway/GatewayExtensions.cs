using System.Security.Claims;
using System.Threading.RateLimiting;
using AgenticFlow.Gateway.Routing;
using AgenticFlow.Gateway.Security;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Transforms;

namespace AgenticFlow.Gateway;

public static class GatewayExtensions
{
    public const string PolicyScheme = "Gateway";
    public const string CorrelationHeader = "X-Correlation-Id";
    public const string ProblemBase = AgenticFlow.ServiceDefaults.Problems.Base;
    /// <summary>Headers a client may not pass on: credentials, the identity only the gateway states, and the ones only
    /// Dapr sidecars set (caller and callee app ids, header-based invocation, the local runtime's peer key).</summary>
    private static readonly string[] InternalHeaders = [
        "dapr-api-token", "X-Api-Key", "Authorization", .. AgenticFlow.ServiceDefaults.CallerIdentity.EdgeHeaders,
        "dapr-caller-app-id", "dapr-callee-app-id", "dapr-app-id", "dapr-caller-namespace", "x-agenticflow-peer-key",
        // The client's trace context and baggage (the gateway's own context is added to the call as it is sent).
        .. IngressTraceContext.Headers, IngressTraceContext.SelfHeader];

    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<Credentials>();
        IngressTraceContext.Use(services);
        services.AddHostedService(sp => sp.GetRequiredService<Credentials>());

        services.AddAuthentication(PolicyScheme)
            .AddPolicyScheme(PolicyScheme, "API key or JWT bearer", o => o.ForwardDefaultSelector = context =>
                IsJwtBearer(context.Request.Headers.Authorization.ToString()) ? JwtBearerDefaults.AuthenticationScheme : ApiKeyAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null)
            .AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<Credentials, IOptions<GatewayOptions>>((jwt, credentials, gateway) =>
        {
            jwt.MapInboundClaims = false;
            // Right after start the signing key may still be on its way from the secret store.
            jwt.Events = new JwtBearerEvents
            {
                OnMessageReceived = _ => credentials.WhenLoaded(TimeSpan.FromSeconds(5)),
                // An agent token acts for one agent, so it must name it.
                OnTokenValidated = context =>
                {
                    if (context.Principal?.IsInRole(Roles.Agent) == true && string.IsNullOrEmpty(context.Principal.FindFirst(Roles.AgentIdClaim)?.Value))
                    {
                        context.Fail("a token with the agent role needs an agent_id claim");
                    }
                    return Task.CompletedTask;
                },
            };
            jwt.TokenValidationParameters = new Microsoft.IdentityModel.Tokens.TokenValidationParameters
            {
                ValidIssuer = gateway.Value.JwtIssuer,
                ValidAudience = gateway.Value.JwtAudience,
                IssuerSigningKeyResolver = (_, _, _, _) => credentials.SigningKeys,
                NameClaimType = "sub",
                RoleClaimType = "role",
                ClockSkew = TimeSpan.FromSeconds(30),
            };
        });
        services.AddAuthorization(RouteTable.AddPolicies);
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResults>();

        services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (AgenticFlow.ServiceDefaults.Extensions.IsHealthPath(context.Request.Path))
                {
                    return RateLimitPartition.GetNoLimiter("health");
                }
                var settings = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value;
                var client = context.User.Identity?.IsAuthenticated == true ? "user:" + context.User.Identity.Name : "ip:" + context.Connection.RemoteIpAddress;
                return RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = settings.Burst,
                    TokensPerPeriod = settings.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Problem(context.HttpContext, StatusCodes.Status429TooManyRequests, "Too many requests", $"This client is over its rate limit; retry after {retryAfter} s.", "rate-limited");
            };
        });

        var daprHttp = builder.Configuration["DAPR_HTTP_ENDPOINT"]
            ?? $"http://127.0.0.1:{builder.Configuration["DAPR_HTTP_PORT"] ?? "3500"}";
        var daprToken = builder.Configuration["DAPR_API_TOKEN"];
        services.AddReverseProxy()
            .LoadFromMemory(RouteTable.ProxyRoutes(), RouteTable.Clusters(daprHttp))
            .AddTransforms(transforms => transforms.AddRequestTransform(context =>
            {
                var headers = context.ProxyRequest.Headers;
                foreach (var name in InternalHeaders)
                {
                    headers.Remove(name);
                }
                if (!string.IsNullOrEmpty(daprToken))
                {
                    headers.TryAddWithoutValidation("dapr-api-token", daprToken);
                }
                var user = context.HttpContext.User;
                headers.TryAddWithoutValidation(CallerIdentity.PrincipalHeader, user.Identity?.Name is { Length: > 0 } principal ? principal : "anonymous");
                headers.TryAddWithoutValidation(CallerIdentity.RolesHeader, string.Join(',', Roles.All.Where(user.IsInRole)));
                if (user.FindFirst(Roles.AgentIdClaim)?.Value is { } agent)
                {
                    headers.TryAddWithoutValidation(CallerIdentity.AgentHeader, agent);
                }
                return ValueTask.CompletedTask;
            }));
        return builder;
    }

    /// <summary>A bearer token shaped like a JWT (three dot-separated parts). Anything else after "Bearer " is taken
    /// as an API key, which is how OpenAI SDKs send theirs to <c>/v1</c>.</summary>
    public static bool IsJwtBearer(string authorization) =>
        authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization.Count(c => c == '.') == 2;

    /// <summary>Every request carries a correlation id: the caller's X-Correlation-Id, or a new one; it is forwarded and echoed.</summary>
    public static IApplicationBuilder UseCorrelationId(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var id = context.Request.Headers[CorrelationHeader].ToString();
        if (id.Length is 0 or > 128)
        {
            id = System.Diagnostics.Activity.Current?.TraceId.ToString() ?? Guid.NewGuid().ToString("N");
            context.Request.Headers[CorrelationHeader] = id;
        }
        context.Response.Headers[CorrelationHeader] = id;
        System.Diagnostics.Activity.Current?.SetTag("correlation.id", id);
        await next(context);
    });

    /// <summary>Refuses bodies over the limit with a problem before anything is forwarded.</summary>
    public static IApplicationBuilder UseRequestSizeLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var limit = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await Problem(context, StatusCodes.Status413PayloadTooLarge, "Request body too large", $"Bodies are limited to {limit} bytes.", "payload-too-large");
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }
        await next(context);
    });

    public static Task Problem(HttpContext context, int status, string title, string detail, string type) =>
        Results.Problem(title: title, detail: detail, statusCode: status, type: ProblemBase + type,
            extensions: new Dictionary<string, object?> { ["correlationId"] = context.Response.Headers[CorrelationHeader].ToString() }).ExecuteAsync(context);
}

/// <summary>401 and 403 as problem details, with the challenge header the scheme would send.</summary>
public sealed class ProblemAuthorizationResults : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Challenged)
        {
            context.Response.Headers.WWWAuthenticate = "ApiKey, Bearer";
            await GatewayExtensions.Problem(context, StatusCodes.Status401Unauthorized, "Unauthorized", "Send an API key (X-Api-Key) or a bearer token.", "unauthorized");
            return;
        }
        if (result.Forbidden)
        {
            await GatewayExtensions.Problem(context, StatusCodes.Status403Forbidden, "Forbidden",
                $"{context.User.Identity?.Name} may not {context.Request.Method} {context.Request.Path}.", "forbidden");
            return;
        }
        await _default.HandleAsync(next, context, policy, result);
    }
}
