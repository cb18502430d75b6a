namespace AgenticFlow.LocalRuntime.Hosting;

/// <summary>Walks command-line arguments the way daprd reads its flags: <c>--name value</c> or <c>--name=value</c>.</summary>
public sealed class FlagReader(IReadOnlyList<string> args)
{
    private int _next;
    private string? _inline;

    /// <summary>The flag (or bare argument) just read, without any <c>=value</c>.</summary>
    public string Current { get; private set; } = "";

    public bool MoveNext()
    {
        if (_next >= args.Count)
        {
            return false;
        }
        var arg = args[_next++];
        _inline = null;
        var eq = arg.IndexOf('=');
        if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
        {
            _inline = arg[(eq + 1)..];
            arg = arg[..eq];
        }
        Current = arg;
        return true;
    }

    /// <summary>The current flag's value: after '=', or the next argument.</summary>
    public string Value() => _inline ?? (_next < args.Count ? args[_next++] : throw new ArgumentException($"{Current} needs a value"));

    /// <summary>Passes over the current flag's value, if it has one, for flags that are accepted but mean nothing here.</summary>
    public void SkipValue()
    {
        if (_inline is null && _next < args.Count && !args[_next].StartsWith("--", StringComparison.Ordinal))
        {
            _next++;
        }
    }
}
