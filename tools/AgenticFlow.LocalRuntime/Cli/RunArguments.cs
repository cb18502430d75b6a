using AgenticFlow.LocalRuntime.Hosting;

namespace AgenticFlow.LocalRuntime.Cli;

/// <summary>
/// What <c>run</c> takes: the run file (<c>-f FILE</c>, <c>--run-file FILE</c> or the bare path; a folder means its
/// <c>dapr.yaml</c>; none means the current folder's) and <c>--log-level</c>, which overrides every app's <c>logLevel</c>.
/// </summary>
public sealed record RunArguments(string File, string? LogLevel)
{
    public static RunArguments Parse(IReadOnlyList<string> args)
    {
        string? file = null, logLevel = null;
        var flags = new FlagReader(args);
        while (flags.MoveNext())
        {
            var arg = flags.Current;
            switch (arg)
            {
                case "-f" or "--run-file":
                    file = flags.Value();
                    break;
                case "--log-level":
                    logLevel = flags.Value();
                    break;
                case var flag when flag.StartsWith('-'):
                    throw new ArgumentException($"unknown flag {flag} for run (it takes -f FILE and --log-level LEVEL)");
                default:
                    file = file is null ? arg : throw new ArgumentException($"run takes one run file, not '{file}' and '{arg}'");
                    break;
            }
        }
        return new RunArguments(file ?? ".", logLevel);
    }
}
