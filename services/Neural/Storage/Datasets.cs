using System.Text;
using AgenticFlow.Neural.Domain;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Neural.Storage;

/// <summary>Training data as CSV artifacts: inline rows are staged under <c>datasets/</c>; a job may instead name a
/// CSV a user put into the bucket.</summary>
public sealed class Datasets(IArtifactStore artifacts, IOptions<NeuralOptions> options)
{
    public static string StagedKey(string jobId) => $"datasets/{jobId}.csv";

    /// <summary>The data behind <paramref name="key"/> with its fingerprint; null with errors when it is missing or not CSV.</summary>
    public async Task<(Tabular? Data, string Fingerprint)> ReadAsync(string key, List<string> errors, CancellationToken ct)
    {
        var bytes = await artifacts.GetAsync(key, ct);
        if (bytes is null)
        {
            errors.Add($"no artifact {key}");
            return (null, "");
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            errors.Add($"artifact {key} is not UTF-8 text");
            return (null, "");
        }
        var data = Tabular.FromCsv(text, options.Value.MaxTrainingRows, errors);
        return errors.Count > 0 ? (null, "") : (data, Tabular.Fingerprint(bytes));
    }
}
