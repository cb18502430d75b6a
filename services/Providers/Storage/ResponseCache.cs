using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticFlow.Providers.Domain;
using Dapr.Client;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Storage;

/// <summary>
/// Exact-match response cache in the state store, shared by replicas: the key is a hash of the model choice,
/// the messages and the generation options; entries expire with the state store's TTL. Only asked for per
/// request (<c>routing.cacheTtlSeconds</c>), never for tool calls.
/// </summary>
public sealed class ResponseCache(DaprClient dapr, IOptions<ProvidersOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private sealed record Entry(string Text, string Provider, string Model, long InputTokens, long OutputTokens, bool Development, string? FinishReason);

    public static string Key(CompletionRequest request)
    {
        var shape = JsonSerializer.Serialize(new
        {
            request.Model,
            request.ModelClass,
            messages = request.Messages.Select(m => new { role = m.Role.Value, text = m.Text }),
            request.Options.MaxOutputTokens,
            request.Options.Temperature,
            request.Options.TopP,
            request.Options.StopSequences,
            json = request.Options.ResponseFormat is not null,
            request.Routing.Providers,
            request.Routing.RequiredFeatures,
        }, Json);
        return "response-cache:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(shape)));
    }

    public async Task<CompletionResult?> GetAsync(string key, CancellationToken ct) =>
        await dapr.GetStateAsync<Entry?>(options.Value.StateStore, key, cancellationToken: ct) is { } e
            ? new CompletionResult(e.Text, [], e.Provider, e.Model, e.InputTokens, e.OutputTokens, 0, 0, e.Development, e.FinishReason, [])
            : null;

    public Task PutAsync(string key, CompletionResult result, int ttlSeconds, CancellationToken ct) =>
        dapr.SaveStateAsync(options.Value.StateStore, key,
            new Entry(result.Text, result.Provider, result.Model, result.InputTokens, result.OutputTokens, result.Development, result.FinishReason),
            metadata: new Dictionary<string, string> { ["ttlInSeconds"] = ttlSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            cancellationToken: ct);
}
