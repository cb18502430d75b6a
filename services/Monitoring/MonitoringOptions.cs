using System.ComponentModel.DataAnnotations;

namespace AgenticFlow.Monitoring;

public sealed class MonitoringOptions
{
    public const string Section = "Monitoring";

    [Required]
    public string StateStore { get; set; } = "statestore";

    [Required]
    public string PubSub { get; set; } = "pubsub";

    /// <summary>Where metric points live: <c>embedded</c> (in this process, bounded by <see cref="RetentionMinutes"/>) or
    /// <c>influxdb</c> (an InfluxDB 1.x server at <see cref="InfluxUrl"/>).</summary>
    [Required, RegularExpression("^(embedded|influxdb)$", ErrorMessage = "Monitoring:Store must be embedded or influxdb")]
    public string Store { get; set; } = "embedded";

    public string? InfluxUrl { get; set; }

    [Required]
    public string InfluxDatabase { get; set; } = "agenticflow";

    /// <summary>How long the embedded stores keep metric points, spans and log records.</summary>
    [Range(1, 7 * 24 * 60)]
    public int RetentionMinutes { get; set; } = 60;

    /// <summary>Series the embedded store holds at most (name + service + tags); a write past it is refused.</summary>
    [Range(10, 10_000_000)]
    public int MaxSeries { get; set; } = 50_000;

    [Range(1_000, 10_000_000)]
    public int MaxSpans { get; set; } = 200_000;

    [Range(1_000, 10_000_000)]
    public int MaxLogRecords { get; set; } = 100_000;

    /// <summary>The apps whose health is checked (through Dapr invocation of their <c>/readyz</c>).</summary>
    [Required, MinLength(1)]
    public string[] Apps { get; set; } = ["agents", "messaging", "memory", "coordination", "providers", "neural", "workflows", "gateway"];

    /// <summary>Apps reached only by their telemetry (the ingress has no app channel behind its sidecar): up while
    /// they exported within <see cref="TelemetryStaleSeconds"/>.</summary>
    public string[] TelemetryOnlyApps { get; set; } = ["gateway"];

    [Range(1, 3600)]
    public int TelemetryStaleSeconds { get; set; } = 30;

    [Range(0.2, 60)]
    public double HealthIntervalSeconds { get; set; } = 1;

    [Range(0.2, 60)]
    public double HealthTimeoutSeconds { get; set; } = 2;

    [Range(0.2, 3600)]
    public double AlertIntervalSeconds { get; set; } = 1;

    /// <summary>Lets alert webhooks reach loopback and private addresses (development, tests); off by default.</summary>
    public bool AllowPrivateWebhooks { get; set; }

    [Range(1, 20)]
    public int WebhookAttempts { get; set; } = 5;

    [Range(0.05, 60)]
    public double WebhookBackoffSeconds { get; set; } = 0.5;

    /// <summary>How often the live stream (<c>/api/v1/monitoring/stream</c>) sends a snapshot.</summary>
    [Range(0.2, 60)]
    public double StreamIntervalSeconds { get; set; } = 2;
}
