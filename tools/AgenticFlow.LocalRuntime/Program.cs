using System.Runtime.InteropServices;
using AgenticFlow.LocalRuntime.Cli;

const string Usage = """
    agenticflow-runtime: a Dapr-compatible sidecar for development and tests (not a production engine).

      sidecar --app-id ID [--app-port N] [--dapr-http-port N] [--dapr-grpc-port N]
              [--resources-path DIR]... [--config FILE] [--log-level info] [--app-protocol http]
          One sidecar for one app, with daprd's flags. DAPR_API_TOKEN and APP_API_TOKEN come from the environment.

      run [-f dapr.yaml] [--log-level debug]
          Every app of a Dapr multi-app run file, each with its own sidecar; an app that crashes is restarted.
          Ctrl+C stops them all.

    A start-up failure is one line on stderr; --log-level debug (or an app's logLevel: debug) adds the stack trace.
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
var debug = args.Contains("--log-level=debug") || args.Zip(args.Skip(1)).Contains(("--log-level", "debug"));

try
{
    switch (args.FirstOrDefault())
    {
        case "sidecar":
            return await SidecarCommand.RunAsync(args[1..], stop.Token);
        case "run":
            return await MultiAppRun.RunAsync(RunArguments.Parse(args[1..]), stop.Token);
        default:
            Console.Error.WriteLine(Usage);
            return args.Length == 0 || args[0] is "-h" or "--help" ? 0 : 2;
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 0;
}
catch (StartupException ex)
{
    return Fail(ex.Message, ex.ShowCause || debug ? ex.InnerException ?? ex : null);
}
catch (ArgumentException ex)
{
    return Fail($"{ex.Message}; see agenticflow-runtime --help", debug ? ex : null);
}
catch (Exception ex)
{
    // Not a failure the runtime foresaw: still one line, with the way to see more.
    return Fail(debug ? $"{ex.GetType().Name}: {ex.Message}" : $"{ex.GetType().Name}: {ex.Message}; run with --log-level debug for the stack trace", debug ? ex : null);
}

// One line a person can act on; the exception with its stack trace only when asked for.
static int Fail(string message, Exception? details)
{
    Console.Error.WriteLine("agenticflow-runtime: " + string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)));
    if (details is not null)
    {
        Console.Error.WriteLine(details);
    }
    return 1;
}
