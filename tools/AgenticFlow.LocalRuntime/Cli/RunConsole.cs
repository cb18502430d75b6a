namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>The run's standard output, shared by every app and sidecar: one whole line at a time, prefixed the way <c>dapr run</c> does.</summary>
internal static class RunConsole
{
    private static readonly Lock Gate = new();

    public static void Write(string appId, string kind, string line)
    {
        lock (Gate)
        {
            Console.Out.WriteLine($"== {kind} - {appId} == {line}");
        }
    }
}
