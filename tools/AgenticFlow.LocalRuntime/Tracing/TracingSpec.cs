using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace AgenticFlow.LocalRuntime.Tracing;

/// <summary>
/// <c>spec.tracing</c> of the sidecar's Dapr Configuration, as daprd reads it: <c>samplingRate</c> (a string holding a
/// number from 0 to 1; 0 = none sampled; absent or unreadable = daprd's default, 1 in 10,000), <c>zipkin.endpointAddress</c> (where spans
/// go, as Zipkin v2 JSON) and <c>stdout</c> (each span also written to the console). Spans are recorded only when the
/// rate is above 0 and there is somewhere to send them.
/// </summary>
public sealed record TracingSpec(double SamplingRate, Uri? ZipkinEndpoint, bool Stdout)
{
    public static readonly TracingSpec Off = new(0, null, false);

    /// <summary>daprd's rate when <c>samplingRate</c> is absent or not a number: one trace in ten thousand.</summary>
    public const double DefaultSamplingRate = 0.0001;

    /// <summary>True when some trace may be recorded and sent somewhere.</summary>
    public bool Records => SamplingRate > 0 && (ZipkinEndpoint is not null || Stdout);

    /// <summary>Reads the first Configuration document of <paramref name="path"/>; no path or no <c>spec.tracing</c> = <see cref="Off"/>.
    /// An unreadable <c>samplingRate</c> means daprd's default rate; an endpoint that is not an absolute http(s) URL is refused.</summary>
    public static TracingSpec Load(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return Off;
        }
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }
        foreach (var root in stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>())
        {
            if (Scalar(root, "kind") != "Configuration" || Child(Child(root, "spec"), "tracing") is not YamlMappingNode tracing)
            {
                continue;
            }
            var rate = double.TryParse(Scalar(tracing, "samplingRate"), NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && double.IsFinite(r)
                ? Math.Clamp(r, 0, 1)
                : DefaultSamplingRate;
            Uri? endpoint = null;
            if (Scalar(Child(tracing, "zipkin"), "endpointAddress") is { Length: > 0 } address)
            {
                endpoint = Uri.TryCreate(address, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                    ? uri
                    // Credentials before an '@' are not repeated in the error.
                    : throw new FormatException($"{path}: spec.tracing.zipkin.endpointAddress '{(address.LastIndexOf('@') is var at and >= 0 ? "***" + address[at..] : address)}' is not an http(s) URL");
            }
            var stdout = string.Equals(Scalar(tracing, "stdout"), "true", StringComparison.OrdinalIgnoreCase);
            return new TracingSpec(rate, endpoint, stdout);
        }
        return Off;
    }

    private static YamlNode? Child(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlNode? node, string key) => (Child(node, key) as YamlScalarNode)?.Value;
}
