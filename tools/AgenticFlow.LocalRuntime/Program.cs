using System.Runtime.InteropServices;
using AgenticFlow.LocalRuntime.Cli;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;

const string Usage = """
    agenticflow-runtime: a Dapr-compatible sidecar for development and tests (not a production engine).

      sidecar --app-id ID [--app-port N] [--dapr-http-port N] [--dapr-grpc-port N]
              [--resources-path DIR]... [--config FILE] [--log-level info] [--app-protocol http]
          One sidecar for one app, with daprd's flags. DAPR_API_TOKEN and APP_API_TOKEN come from the environment.

      run -f dapr.yaml
          Every app of a Dapr multi-app run file, each with its own sidecar. Ctrl+C stops them all.
    """;

// Ctrl+C and SIGTERM stop everything gracefully: apps first, then sidecars.
using var stop = new CancellationTokenSource();
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

try
{
    switch (args.FirstOrDefault())
    {
        case "sidecar":
        {
            var options = SidecarOptions.Parse(args[1..], Environment.GetEnvironmentVariable);
            var resources = ResourceLoader.Load(options.ResourcesPaths.Where(p => Directory.Exists(p) || File.Exists(p)));
            await using var shared = new SharedResources();
            await using var host = await SidecarHost.StartAsync(options, resources, shared, new NameRegistry(), ct: stop.Token);
            await host.WaitForShutdownAsync(stop.Token);
            return 0;
        }
        case "run":
        {
            var file = args.Length >= 3 && args[1] is "-f" or "--run-file" ? args[2] : args.Length == 2 ? args[1] : ".";
            return await MultiAppRun.RunAsync(file, stop.Token);
        }
        default:
            Console.Error.WriteLine(Usage);
            return args.Length == 0 || args[0] is "-h" or "--help" ? 0 : 2;
    }
}
catch (Exception ex) when (ex is ComponentException or ArgumentException or FormatException or FileNotFoundException)
{
    Console.Error.WriteLine($"agenticflow-runtime: {ex.Message}");
    return 1;
}
catch (OperationCanceledException)
{
    return 0;
}
