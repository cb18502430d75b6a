using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>A start-up failure told in one line: what failed (app, port or file) and what to do about it.</summary>
public sealed class StartupException(string message, Exception? cause = null) : Exception(message, cause)
{
    /// <summary>The failing app runs at debug log level, so the cause is shown with its stack trace as well.</summary>
    public bool ShowCause { get; init; }
}

/// <summary>Where the person starting the runtime changes each setting: a run file key or a <c>sidecar</c> flag.</summary>
public sealed record SettingNames(string ResourcesPath, string ConfigFile, string DaprHttpPort, string DaprGrpcPort, string AppPort, string AppDir, string Command)
{
    public static readonly SettingNames SidecarFlags = new("--resources-path", "--config", "--dapr-http-port", "--dapr-grpc-port", "--app-port", "", "");

    public static SettingNames InRunFile(string fileName) => new(
        $"resourcesPath in {fileName}", $"configFilePath in {fileName}", $"daprHTTPPort in {fileName}", $"daprGRPCPort in {fileName}",
        $"appPort in {fileName}", $"appDirPath in {fileName}", $"command in {fileName}");

    public string Port(SidecarListener listener) => listener == SidecarListener.Http ? DaprHttpPort : DaprGrpcPort;
}

/// <summary>
/// The start-up checks of one app, run before anything of it starts; each failure is a <see cref="StartupException"/>
/// that names the app and says which setting to change.
/// </summary>
public sealed class AppStartupChecks(string appId, SettingNames settings, bool debug)
{
    public string AppId => appId;

    public SettingNames Settings => settings;

    public StartupException Failure(string problem, string remedy, Exception? cause = null) =>
        new($"app '{appId}': {problem}; {remedy}", cause) { ShowCause = debug };

    /// <summary>Reads and validates the app's components: every path exists, every file parses, every type is supported.</summary>
    public ResourceSet LoadResources(IReadOnlyList<string> paths)
    {
        foreach (var path in paths.Where(p => !Directory.Exists(p) && !File.Exists(p)))
        {
            throw Failure($"resources path {path} does not exist", $"create it or change {settings.ResourcesPath}");
        }
        ResourceSet resources;
        try
        {
            resources = ResourceLoader.Load(paths);
        }
        catch (ComponentException ex)
        {
            throw Failure(ex.Message, $"correct that file or remove it from the resources path ({settings.ResourcesPath})", ex);
        }
        try
        {
            ComponentRegistry.Validate(resources);
        }
        catch (ComponentException ex)
        {
            // The message already says what to do: pick a supported type or run real daprd.
            throw new StartupException($"app '{appId}': {ex.Message}", ex) { ShowCause = debug };
        }
        return resources;
    }

    /// <summary>The Configuration file, when one is named, exists and can be read.</summary>
    public void CheckConfiguration(string? path)
    {
        if (path is null)
        {
            return;
        }
        if (!File.Exists(path))
        {
            throw Failure($"configuration file {path} does not exist", $"create it or change {settings.ConfigFile}");
        }
        try
        {
            ResourceLoader.LoadSecretScopes(path);
            Tracing.TracingSpec.Load(path);
        }
        catch (ComponentException ex)
        {
            throw Failure(ex.Message, "correct the configuration file", ex);
        }
        catch (FormatException ex)
        {
            // spec.tracing: a zipkin endpoint that is not an http(s) URL.
            throw Failure(ex.Message, "correct the configuration file", ex);
        }
    }

    public void CheckPortFree(SidecarListener listener, int port)
    {
        if (!LoopbackPorts.IsFree(port))
        {
            throw PortInUse(listener, port);
        }
    }

    public void CheckAppPortFree(int port)
    {
        if (!LoopbackPorts.IsFree(port))
        {
            throw Failure($"app port {port} is already in use by another process", $"free it or change {settings.AppPort}");
        }
    }

    public StartupException PortInUse(SidecarListener listener, int port, Exception? cause = null) =>
        Failure($"dapr {(listener == SidecarListener.Http ? "HTTP" : "gRPC")} port {port} is already in use by another process",
            $"free it or change {settings.Port(listener)}", cause);

    /// <summary>Turns what can go wrong while a sidecar starts into a one-line failure of this app.</summary>
    public async Task<SidecarHost> StartSidecarAsync(Func<Task<SidecarHost>> start)
    {
        try
        {
            return await start();
        }
        catch (PortInUseException ex)
        {
            throw PortInUse(ex.Listener, ex.Port, ex);
        }
        catch (ComponentException ex)
        {
            throw Failure(ex.Message, "correct the component, or start the server it connects to", ex);
        }
    }
}
