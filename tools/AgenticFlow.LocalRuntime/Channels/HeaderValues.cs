using AgenticFlow.LocalRuntime.Errors;

namespace AgenticFlow.LocalRuntime.Channels;

/// <summary>
/// Headers whose names or values come from a caller's data (gRPC metadata, an actor call's metadata) and go on to the
/// app or another sidecar. They are added without .NET's validation (daprd passes values on as written), and .NET then
/// writes them to the wire as they are: a CR/LF in one would add headers, or a whole request, of the caller's choosing
/// ahead of the ones the sidecar adds after it (its peer key, the app token). Such a call is refused instead.
/// </summary>
public static class HeaderValues
{
    public static void Add(HttpRequestMessage request, string name, IEnumerable<string?> values)
    {
        Check(name, values);
        request.Headers.TryAddWithoutValidation(name, values);
    }

    /// <summary>Refuses (400, gRPC InvalidArgument) a name or value holding CR, LF or NUL.</summary>
    public static void Check(string name, IEnumerable<string?> values)
    {
        if (Unsafe(name) || values.Any(Unsafe))
        {
            throw DaprError.Malformed($"the metadata '{(Unsafe(name) ? "(a name)" : name)}' holds CR, LF or NUL, which no header may carry");
        }
    }

    public static void Add(HttpRequestMessage request, string name, string? value) => Add(request, name, [value]);

    private static bool Unsafe(string? text) => text is not null && text.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0;
}
