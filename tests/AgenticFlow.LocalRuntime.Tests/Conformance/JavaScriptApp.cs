using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;

namespace AgenticFlow.LocalRuntime.Tests.Conformance;

/// <summary>
/// The JavaScript app of <c>tests/conformance-js</c> (written with <c>@dapr/dapr</c>) behind a sidecar of the
/// runtime, started once for a test class. <see cref="RunAsync"/> runs one of the folder's driver scripts, which
/// exercise the SDK's clients against the sidecar and print their outcome as one <c>RESULT {json}</c> line.
/// The sidecar requires an API token, which the SDK takes from <c>DAPR_API_TOKEN</c> like every other setting.
/// </summary>
public sealed class JavaScriptApp : IAsyncLifetime
{
    private const string ApiToken = "js-conformance-token";
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ScriptLimit = TimeSpan.FromSeconds(90);

    private readonly ConcurrentQueue<string> _appOutput = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ComponentsFolder? _components;
    private Process? _app;

    public string AppId { get; } = TestServers.NewId("js");
    public TestSidecar Sidecar { get; private set; } = null!;

    /// <summary>The folder with the app, the driver scripts, package.json and the lock file.</summary>
    public static string Folder { get; } = FindFolder();

    public async Task InitializeAsync()
    {
        await EnsurePackagesAsync();
        var appPort = TestSidecar.FreePort();
        var httpPort = TestSidecar.FreePort();
        var grpcPort = TestSidecar.FreePort();
        _components = new ComponentsFolder()
            .State("sqlite", extraMetadata: ComponentsFolder.ActorStateStore)
            .PubSub("in-memory")
            .FastRetries();
        _app = Node(["app.js"], Environment(appPort, httpPort, grpcPort));
        _app.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            _appOutput.Enqueue(e.Data);
            if (e.Data == "READY")
            {
                _ready.TrySetResult();
            }
        };
        _app.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _appOutput.Enqueue(e.Data);
            }
        };
        _app.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("the JavaScript app exited before it was ready"));
        _app.EnableRaisingEvents = true;
        try
        {
            _app.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("node is needed for the JavaScript SDK conformance tests: run 'bash tools/test.sh', which installs it", ex);
        }
        _app.BeginOutputReadLine();
        _app.BeginErrorReadLine();

        Sidecar = await TestSidecar.StartAsync(AppId, _components.Path, appPort: appPort, apiToken: ApiToken, httpPort: httpPort, grpcPort: grpcPort);
        try
        {
            await _ready.Task.WaitAsync(StartLimit);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"the JavaScript app did not become ready: {ex.Message}\n{AppOutput()}", ex);
        }
    }

    /// <summary>Runs <c>node {script} {scenario}</c> and returns its RESULT; fails the test with the script's and
    /// the app's output when it exits non-zero or runs past its limit.</summary>
    public async Task<JsonElement> RunAsync(string script, string scenario)
    {
        var output = new ConcurrentQueue<string>();
        using var driver = Node([script, scenario], Environment(null, Sidecar.HttpPort, Sidecar.GrpcPort));
        driver.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        driver.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        driver.Start();
        driver.BeginOutputReadLine();
        driver.BeginErrorReadLine();
        using var limit = new CancellationTokenSource(ScriptLimit);
        try
        {
            await driver.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            driver.Kill(entireProcessTree: true);
            Assert.Fail($"node {script} {scenario} ran past {ScriptLimit.TotalSeconds} s\n{Tail(output)}\n--- app ---\n{AppOutput()}");
        }
        driver.WaitForExit(); // drains the output handlers
        var result = output.LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (driver.ExitCode != 0 || result is null)
        {
            Assert.Fail($"node {script} {scenario} exited with {driver.ExitCode}\n{Tail(output)}\n--- app ---\n{AppOutput()}");
        }
        return JsonDocument.Parse(result["RESULT ".Length..]).RootElement.Clone();
    }

    /// <summary>The variables <c>agenticflow-runtime run -f</c> (and <c>dapr run</c>) give an app: the SDK reads the
    /// endpoints first, the ports when there are none.</summary>
    private Dictionary<string, string> Environment(int? appPort, int httpPort, int grpcPort)
    {
        var env = new Dictionary<string, string>
        {
            ["APP_ID"] = AppId,
            ["DAPR_HTTP_PORT"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DAPR_GRPC_PORT"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["DAPR_HTTP_ENDPOINT"] = $"http://127.0.0.1:{httpPort}",
            ["DAPR_GRPC_ENDPOINT"] = $"http://127.0.0.1:{grpcPort}",
            ["DAPR_API_TOKEN"] = ApiToken,
        };
        if (appPort is { } port)
        {
            env["APP_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return env;
    }

    private static Process Node(IEnumerable<string> arguments, IReadOnlyDictionary<string, string> env)
    {
        var info = new ProcessStartInfo("node") { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in env)
        {
            info.Environment[name] = value;
        }
        return new Process { StartInfo = info };
    }

    /// <summary><c>tools/test.sh</c> runs <c>npm ci</c>; a run started another way gets it here, once.</summary>
    private static async Task EnsurePackagesAsync()
    {
        if (File.Exists(Path.Combine(Folder, "node_modules", "@dapr", "dapr", "package.json")))
        {
            return;
        }
        var info = new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund"]) { WorkingDirectory = Folder, RedirectStandardOutput = true, RedirectStandardError = true };
        Process npm;
        try
        {
            npm = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("node and npm are needed for the JavaScript SDK conformance tests: run 'bash tools/test.sh', which installs them", ex);
        }
        using (npm)
        {
            var errors = npm.StandardError.ReadToEndAsync();
            await npm.StandardOutput.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await npm.WaitForExitAsync(limit.Token);
            if (npm.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm ci failed in {Folder}: {await errors}");
            }
        }
    }

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "conformance-js");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("tests/conformance-js was not found above " + AppContext.BaseDirectory);
    }

    private string AppOutput() => Tail(_appOutput);

    private static string Tail(IEnumerable<string> lines) => string.Join('\n', lines.TakeLast(60));

    public async Task DisposeAsync()
    {
        if (_app is { } app)
        {
            try
            {
                if (!app.HasExited)
                {
                    app.Kill(entireProcessTree: true);
                    await app.WaitForExitAsync();
                }
            }
            catch (InvalidOperationException)
            {
                // never started
            }
            app.Dispose();
        }
        if (Sidecar is not null)
        {
            await Sidecar.DisposeAsync();
        }
        _components?.Dispose();
    }
}
