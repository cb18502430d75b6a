using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Api;
using AgenticFlow.LocalRuntime.Channels;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Errors;
using AgenticFlow.LocalRuntime.Peers;
using AgenticFlow.LocalRuntime.Tracing;
using AgenticFlow.LocalRuntime.Workflows;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>One running sidecar: its HTTP port (HTTP/1.1) and gRPC port (HTTP/2 cleartext) on loopback.</summary>
public sealed class SidecarHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SidecarHost(WebApplication app, Sidecar sidecar)
    {
        _app = app;
        Sidecar = sidecar;
    }

    public Sidecar Sidecar { get; }
    public int HttpPort { get; private set; }
    public int GrpcPort { get; private set; }

    /// <summary>Loads the components and starts listening; the app's subscriptions load in the background once it answers.</summary>
    public static async Task<SidecarHost> StartAsync(SidecarOptions options, ResourceSet resources, SharedResources shared, NameRegistry names, ILoggerFactory? loggerFactory = null, CancellationToken ct = default)
    {
        // A sidecar takes its settings from its flags and components, never from an appsettings file that changes under
        // it: no file watcher (each holds one of the 128 inotify instances a user has, and a run hosts every sidecar).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            builder.Logging.SetMinimumLevel(ParseLevel(options.LogLevel));
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
            if (ParseLevel(options.LogLevel) > LogLevel.Debug)
            {
                // A host that fails to start logs the exception with its stack trace; the CLI reports it in one line instead.
                builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
            }
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = 16 * 1024 * 1024;
            kestrel.Listen(IPAddress.Loopback, options.HttpPort, l => l.Protocols = HttpProtocols.Http1);
            kestrel.Listen(IPAddress.Loopback, options.GrpcPort, l => l.Protocols = HttpProtocols.Http2);
        });
        // Calls to the app and to other sidecars carry the trace context the sidecar chose (see Tracing), never one
        // .NET's HttpClient would write from its own Activity; span exports carry none at all.
        builder.Services.AddTransient<TraceHeadersHandler>();
        builder.Services.AddHttpClient("app", c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30), UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ActivityHeadersPropagator = null })
            .AddHttpMessageHandler<TraceHeadersHandler>();
        builder.Services.AddHttpClient("peer", c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ActivityHeadersPropagator = null })
            .AddHttpMessageHandler<TraceHeadersHandler>();
        builder.Services.AddHttpClient(Sidecar.TelemetryClient)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, ActivityHeadersPropagator = null });
        // The process owns SIGINT/SIGTERM (Program.cs); a host's console lifetime would swallow them.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, ProcessOwnedLifetime>();
        builder.Services.AddDaprGrpcApi();
        builder.Services.AddWorkflowApi();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(names);
        // The sidecar needs the built host's services, so DI hands out the instance set just after Build; the wire
        // adapters get the building blocks it made, each on its own.
        Sidecar? created = null;
        Sidecar Created() => created ?? throw new InvalidOperationException("the sidecar is not created yet");
        builder.Services.AddSingleton(_ => Created().Self);
        builder.Services.AddSingleton(_ => Created().State);
        builder.Services.AddSingleton(_ => Created().Publish);
        builder.Services.AddSingleton(_ => Created().Secrets);
        builder.Services.AddSingleton(_ => Created().Bindings);
        builder.Services.AddSingleton(_ => Created().Targets);
        builder.Services.AddSingleton(_ => Created().Metadata);
        builder.Services.AddSingleton(_ => Created().ActorApi);
        builder.Services.AddSingleton(services => new WorkflowBackend(options.AppId, Created().Leadership, Created().Components.ActorStateStore,
            Created().Components.StateStores.Keys, services.GetRequiredService<ILoggerFactory>(), Created().Lifetime));
        builder.Services.AddSingleton<DaprGrpcService>();

        var app = builder.Build();
        var loggers = app.Services.GetRequiredService<ILoggerFactory>();
        Sidecar? sidecar = null;
        try
        {
            var secretScopes = ResourceLoader.LoadSecretScopes(options.ConfigPath);
            TracingSpec tracing;
            try
            {
                tracing = TracingSpec.Load(options.ConfigPath);
            }
            catch (FormatException ex)
            {
                // Reported at start in one line, as any other mistake in a resource file.
                throw new ComponentException(ex.Message);
            }
            var components = await ComponentRegistry.CreateAsync(resources, options.AppId, options.ConsumerName, shared, loggers, ct);
            sidecar = new Sidecar(options, components, names, app.Services.GetRequiredService<IHttpClientFactory>(), loggers, secretScopes, tracing: tracing);
            created = sidecar;
            MapEndpoints(app, sidecar);
            await app.StartAsync(ct);
        }
        catch (Exception ex)
        {
            // Nothing of a sidecar that did not start stays behind: not its components, not a port it did bind.
            if (sidecar is not null)
            {
                await sidecar.DisposeAsync();
            }
            await app.DisposeAsync();
            if (IsAddressInUse(ex))
            {
                throw PortInUse(options, ex);
            }
            throw;
        }
        var host = new SidecarHost(app, sidecar) { HttpPort = options.HttpPort, GrpcPort = options.GrpcPort };
        _ = Task.Run(async () =>
        {
            try
            {
                await sidecar.StartAsync(resources, options.HttpPort, options.GrpcPort);
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception ex)
            {
                loggers.CreateLogger("sidecar." + options.AppId).LogError(ex, "Sidecar for {AppId} failed to start its subscriptions", options.AppId);
            }
        }, CancellationToken.None);
        return host;
    }

    private static void MapEndpoints(WebApplication app, Sidecar sidecar)
    {
        // The actor SDK joins its endpoint and paths with an extra slash (//v1.0/actors/...): routes see one.
        app.Use((context, next) =>
        {
            var path = context.Request.Path.Value;
            if (path is not null && path.StartsWith("//", StringComparison.Ordinal))
            {
                context.Request.Path = "/" + path.TrimStart('/');
            }
            return next(context);
        });
        // Every call taken gets its SERVER span first, so refusals and errors are in the trace too.
        app.UseMiddleware<TracingMiddleware>(sidecar.Tracer, sidecar.Options.AppId);
        // Before routing: a workflow call a replica forwards arrives on a peer path and is routed as the API call it carries.
        app.UseMiddleware<ApiTokenAndErrors>(sidecar);
        app.UseRouting();
        app.MapDaprHttpApi();
        app.MapWorkflowApi();
        app.MapGrpcService<DaprGrpcService>();
        app.MapGrpcService<Grpc.Reflection.ReflectionV1ServiceImpl>();
        app.MapGrpcService<Grpc.Reflection.ReflectionServiceImpl>();
    }

    private static bool IsAddressInUse(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Which of the two ports is taken: asked once the failed host has let go of the one it may have bound.</summary>
    private static PortInUseException PortInUse(SidecarOptions options, Exception cause) =>
        !LoopbackPorts.IsFree(options.HttpPort) ? new PortInUseException(SidecarListener.Http, options.HttpPort, cause)
        : !LoopbackPorts.IsFree(options.GrpcPort) ? new PortInUseException(SidecarListener.Grpc, options.GrpcPort, cause)
        // Released again already: Kestrel's message names the endpoint it could not bind.
        : cause.Message.Contains($":{options.GrpcPort}:", StringComparison.Ordinal) ? new PortInUseException(SidecarListener.Grpc, options.GrpcPort, cause)
        : new PortInUseException(SidecarListener.Http, options.HttpPort, cause);

    public Task WaitForShutdownAsync(CancellationToken ct) => Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(ct, Sidecar.Lifetime).Token)
        .ContinueWith(_ => { }, TaskScheduler.Default);

    public static LogLevel ParseLevel(string level) => level.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" => LogLevel.Critical,
        _ => LogLevel.Information,
    };

    public async ValueTask DisposeAsync()
    {
        await Sidecar.DisposeAsync();
        await _app.StopAsync(TimeSpan.FromSeconds(5));
        await _app.DisposeAsync();
    }

    /// <summary>
    /// Checks <c>dapr-api-token</c> when DAPR_API_TOKEN is set (the two health endpoints excepted) and writes
    /// <see cref="DaprError"/>s in daprd's HTTP shape. The peer key is accepted only where other sidecars call:
    /// the peer paths (<c>/__agenticflow/...</c>, which require it) and the workflow gRPC service a replica forwards to;
    /// never on the Dapr API itself.
    /// </summary>
    private sealed class ApiTokenAndErrors(RequestDelegate next, Sidecar sidecar)
    {
        public async Task InvokeAsync(HttpContext context)
        {
            var path = context.Request.Path.Value ?? "";
            var isGrpc = context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true;
            if (path.StartsWith(PeerProtocol.Root, StringComparison.Ordinal))
            {
                if (!sidecar.Self.IsPeerKey(context.Request.Headers[PeerProtocol.KeyHeader]))
                {
                    // Marked, so a calling sidecar holding a stale key (this one was restarted) can tell it from an app's 403.
                    context.Response.Headers[PeerProtocol.RefusedHeader] = "1";
                    await Write(context, new DaprError(HttpStatusCode.Forbidden, Grpc.Core.StatusCode.PermissionDenied, "ERR_PERMISSION_DENIED", "peer endpoints take only a sidecar's peer key"));
                    return;
                }
                if (path.StartsWith(WorkflowHttpApi.PeerPrefix, StringComparison.Ordinal))
                {
                    var carried = path[(WorkflowHttpApi.PeerPrefix.Length - 1)..];
                    if (!WorkflowHttpApi.IsWorkflowPath(carried))
                    {
                        await Write(context, new DaprError(HttpStatusCode.NotFound, Grpc.Core.StatusCode.NotFound, "ERR_NOT_FOUND", "a forwarded workflow call must name the workflow API"));
                        return;
                    }
                    context.Request.Path = carried;
                }
            }
            else if (!path.Equals("/v1.0/healthz", StringComparison.Ordinal) && !path.Equals("/v1.0/healthz/outbound", StringComparison.Ordinal)
                && !sidecar.IsApiToken(context.Request.Headers[AppChannel.TokenHeader])
                && !(isGrpc && path.StartsWith("/" + WorkflowGrpcMethods.ServiceName + "/", StringComparison.Ordinal) && sidecar.Self.IsPeerKey(context.Request.Headers[PeerProtocol.KeyHeader])))
            {
                if (isGrpc)
                {
                    context.Response.ContentType = "application/grpc";
                    context.Response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.Unauthenticated).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    context.Response.Headers["grpc-message"] = "invalid api token";
                    return;
                }
                await Write(context, DaprError.Unauthorized());
                return;
            }
            try
            {
                await next(context);
            }
            catch (DaprError error) when (!context.Response.HasStarted)
            {
                await Write(context, error);
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                await Write(context, DaprError.Malformed(ex.Message));
            }
        }

        private static Task Write(HttpContext context, DaprError error)
        {
            context.Response.StatusCode = (int)error.HttpStatus;
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(JsonSerializer.Serialize(new { errorCode = error.ErrorCode, message = error.Message }));
        }
    }

    /// <summary>A host lifetime that leaves signals to the program, which stops every sidecar of the process.</summary>
    private sealed class ProcessOwnedLifetime : Microsoft.Extensions.Hosting.IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
