using System.Text.Json;
using AgenticFlow.Providers.Clients;
using Dapr;
using Dapr.Client;
using AgenticFlow.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace AgenticFlow.Providers.Domain;

public enum ConfigUpdate { Saved, Conflict, NotFound }

/// <summary>
/// The providers in force: those of configuration, replaced by any saved with <c>PUT .../config</c> (kept in the
/// state store with an ETag, so concurrent editors cannot overwrite each other). The local development provider is
/// always there unless configuration disables it.
/// </summary>
public sealed class ProviderRegistry(DaprClient dapr, IOptions<ProvidersOptions> options, ChatClientFactory clients, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, (ProviderSettings Settings, string Version)> _current = [];
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;

    private static string Key(string id) => "provider-config:" + id;

    public static ProviderSettings Local() => new()
    {
        Id = "local",
        Kind = "local",
        Priority = 1000,
        Models = [new ModelSettings { Name = "local-echo", Class = "small", Features = ["json"] }],
    };

    public async Task<IReadOnlyList<(ProviderSettings Settings, string Version)>> AllAsync(CancellationToken ct)
    {
        if (time.GetUtcNow() - _loadedAt > TimeSpan.FromSeconds(5))
        {
            await ReloadAsync(ct);
        }
        return _current.Values.OrderBy(p => p.Settings.Priority).ThenBy(p => p.Settings.Id, StringComparer.Ordinal).ToList();
    }

    public async Task<(ProviderSettings Settings, string Version)?> GetAsync(string id, CancellationToken ct) =>
        (await AllAsync(ct)).FirstOrDefault(p => p.Settings.Id == id) is { Settings: not null } found ? found : null;

    private async Task ReloadAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var configured = options.Value.Items.ToList();
            if (configured.All(p => p.Id != "local"))
            {
                configured.Add(Local());
            }
            var saved = await dapr.GetBulkStateAsync(options.Value.StateStore, configured.Select(p => Key(p.Id)).ToList(), parallelism: 4, cancellationToken: ct);
            var next = new Dictionary<string, (ProviderSettings, string)>(StringComparer.Ordinal);
            foreach (var provider in configured)
            {
                var item = saved.FirstOrDefault(s => s.Key == Key(provider.Id));
                var stored = string.IsNullOrEmpty(item.Value) ? null : JsonSerializer.Deserialize<ProviderSettings>(item.Value, Json);
                // Settings saved before a rule existed are checked again: ones the rules refuse now are not used (kept
                // stored, shown disabled, until an admin saves valid ones).
                if (stored is not null && stored.Validate(options.Value).Any())
                {
                    stored.Enabled = false;
                }
                next[provider.Id] = stored is null ? (provider, "configured") : (stored, item.ETag);
            }
            foreach (var (id, (settings, version)) in next)
            {
                if (_current.TryGetValue(id, out var old) && old.Version != version)
                {
                    clients.Forget(id);
                }
            }
            _current = next;
            _loadedAt = time.GetUtcNow();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Saves new settings for a configured provider when <paramref name="ifMatch"/> is its current version.</summary>
    public async Task<(ConfigUpdate Result, string? Version)> UpdateAsync(ProviderSettings settings, string? ifMatch, CancellationToken ct)
    {
        await ReloadAsync(ct);
        if (!_current.TryGetValue(settings.Id, out var existing))
        {
            return (ConfigUpdate.NotFound, null);
        }
        if (ifMatch is not null && ifMatch != existing.Version)
        {
            return (ConfigUpdate.Conflict, existing.Version);
        }
        // Never saved: insert only (first write wins). Saved: only over the version the caller saw.
        var etag = existing.Version == "configured" ? null : ifMatch ?? existing.Version;
        var stateOptions = new StateOptions { Concurrency = ConcurrencyMode.FirstWrite };
        try
        {
            await dapr.ExecuteStateTransactionAsync(options.Value.StateStore,
            [
                new StateTransactionRequest(Key(settings.Id), JsonSerializer.SerializeToUtf8Bytes(settings, Json), StateOperationType.Upsert,
                    etag, options: stateOptions),
            ], cancellationToken: ct);
        }
        catch (DaprException ex) when (ex.IsETagConflict())
        {
            return (ConfigUpdate.Conflict, existing.Version);
        }
        clients.Forget(settings.Id);
        await ReloadAsync(ct);
        return (ConfigUpdate.Saved, _current[settings.Id].Version);
    }
}
