namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>What one sidecar serves, named after daprd's flags.</summary>
public sealed record SidecarOptions
{
    public required string AppId { get; init; }
    public int? AppPort { get; init; }
    public string AppChannelAddress { get; init; } = "127.0.0.1";
    public int HttpPort { get; init; } = 3500;
    public int GrpcPort { get; init; } = 50001;
    public IReadOnlyList<string> ResourcesPaths { get; init; } = [];

    /// <summary>No resources path was given, so <see cref="ResourcesPaths"/> is daprd's default folder, which may not exist.</summary>
    public bool ResourcesPathIsDefault { get; init; }

    public string? ConfigPath { get; init; }
    public string LogLevel { get; init; } = "info";
    public string? DaprApiToken { get; init; }
    public string? AppApiToken { get; init; }

    /// <summary>Stable name of this instance among replicas of the app: the Redis Streams consumer name.</summary>
    public string? InstanceId { get; init; }

    public string ConsumerName => InstanceId is { Length: > 0 } id ? $"{AppId}-{id}" : AppId;

    /// <summary>Parses daprd's flags (<c>--app-id x</c> or <c>--app-id=x</c>); tokens come from the environment.</summary>
    public static SidecarOptions Parse(IReadOnlyList<string> args, Func<string, string?> env)
    {
        string? appId = null;
        int? appPort = null;
        int httpPort = 3500, grpcPort = 50001;
        var resources = new List<string>();
        string? config = null, logLevel = null, appChannel = null, instance = null;
        var flags = new FlagReader(args);
        while (flags.MoveNext())
        {
            var arg = flags.Current;
            switch (arg.TrimStart('-'))
            {
                case "app-id": appId = flags.Value(); break;
                case "app-port": appPort = Port(arg, flags.Value()); break;
                case "dapr-http-port": httpPort = Port(arg, flags.Value()); break;
                case "dapr-grpc-port": grpcPort = Port(arg, flags.Value()); break;
                case "resources-path" or "components-path": resources.Add(flags.Value()); break;
                case "config": config = flags.Value(); break;
                case "log-level": logLevel = flags.Value(); break;
                case "app-channel-address": appChannel = flags.Value(); break;
                case "app-protocol":
                    var protocol = flags.Value();
                    if (protocol != "http")
                    {
                        throw new ArgumentException($"--app-protocol {protocol} is not supported by the local runtime; use http");
                    }
                    break;
                case "instance-id": instance = flags.Value(); break;
                // Flags daprd takes that have no meaning here are accepted so launch scripts work unchanged.
                case "placement-host-address" or "scheduler-host-address" or "metrics-port" or "dapr-internal-grpc-port"
                    or "profile-port" or "app-max-concurrency" or "dapr-http-max-request-size" or "dapr-listen-addresses"
                    or "mode" or "enable-metrics" or "enable-profiling" or "dapr-graceful-shutdown-seconds":
                    flags.SkipValue();
                    break;
                default:
                    throw new ArgumentException($"unknown flag {arg}");
            }
        }
        if (string.IsNullOrWhiteSpace(appId))
        {
            throw new ArgumentException("--app-id is required");
        }
        var resourcesPathIsDefault = resources.Count == 0;
        if (resourcesPathIsDefault)
        {
            var home = env("HOME") ?? ".";
            resources.Add(Path.Combine(home, ".dapr", "components"));
        }
        return new SidecarOptions
        {
            AppId = appId,
            AppPort = appPort,
            HttpPort = httpPort,
            GrpcPort = grpcPort,
            ResourcesPaths = resources,
            ResourcesPathIsDefault = resourcesPathIsDefault,
            ConfigPath = config,
            LogLevel = logLevel ?? "info",
            AppChannelAddress = appChannel ?? "127.0.0.1",
            DaprApiToken = NullIfEmpty(env("DAPR_API_TOKEN")),
            AppApiToken = NullIfEmpty(env("APP_API_TOKEN")),
            InstanceId = instance ?? NullIfEmpty(env("AGENTICFLOW_INSTANCE_ID")),
        };
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static int Port(string flag, string value) =>
        int.TryParse(value, out var p) && p is > 0 and < 65536 ? p : throw new ArgumentException($"{flag}: '{value}' is not a port");
}
