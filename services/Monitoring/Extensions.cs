using AgenticFlow.Monitoring.Alerts;
using AgenticFlow.Monitoring.Apis;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.Monitoring.Health;
using AgenticFlow.Monitoring.Storage;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Monitoring;

public static class Extensions
{
    public static IHostApplicationBuilder AddMonitoring(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MonitoringOptions>()
            .BindConfiguration(MonitoringOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.Store != "influxdb" || Uri.TryCreate(o.InfluxUrl, UriKind.Absolute, out _), "Monitoring:InfluxUrl must be an absolute URL when Monitoring:Store is influxdb")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddTimeSeriesStore(builder.Configuration);
        services.AddSingleton<MetricQueries>();
        services.AddSingleton<AppInvoker>();
        services.AddSingleton<TraceStore>();
        services.AddSingleton<LogStore>();
        services.AddSingleton<IntakeCounters>();
        services.AddSingleton<AlertStore>();
        // Redirects are not followed: a webhook's target is checked before the call, a redirect's would not be.
        services.AddHttpClient(AlertNotifier.WebhookClient, c => c.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        services.AddSingleton<AlertNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertNotifier>());
        services.AddSingleton<AlertEvaluator>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertEvaluator>());
        services.AddSingleton<HealthMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthMonitor>());
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        return builder;
    }

    /// <summary>The store <c>Monitoring:Store</c> names: embedded (default) or an InfluxDB 1.x server.</summary>
    private static void AddTimeSeriesStore(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[$"{MonitoringOptions.Section}:{nameof(MonitoringOptions.Store)}"] == "influxdb")
        {
            services.AddHttpClient<ITimeSeriesStore, InfluxTimeSeriesStore>((sp, http) =>
            {
                var url = sp.GetRequiredService<IOptions<MonitoringOptions>>().Value.InfluxUrl!;
                http.BaseAddress = new Uri(url.TrimEnd('/') + "/");
                http.Timeout = TimeSpan.FromSeconds(10);
            });
            return;
        }
        services.AddSingleton<ITimeSeriesStore, EmbeddedTimeSeriesStore>();
    }

    /// <summary>The app token check of every service, except on the Zipkin intake: daprd's tracing exporter posts
    /// spans straight to this app's address (as to any Zipkin server), without the sidecar's token. What it accepts
    /// there is validated span JSON only; the network policy limits who reaches the port.</summary>
    public static WebApplication UseSidecarTokenExceptZipkin(this WebApplication app)
    {
        app.UseWhen(context => !context.Request.Path.StartsWithSegments("/api/v2/spans"), branch => branch.UseMiddleware<AgenticFlow.ServiceDefaults.AppTokenCheck>());
        return app;
    }

    public static WebApplication MapMonitoring(this WebApplication app)
    {
        app.MapIntakeApi();
        app.MapMetricsApi();
        app.MapTracesApi();
        app.MapLogsApi();
        app.MapAlertsApi();
        app.MapHealthApi();
        return app;
    }
}
