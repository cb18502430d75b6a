using System.Text.Json;
using Dapr;
using Dapr.Client;
using Grpc.Core;
using Microsoft.Extensions.Options;
using AgenticFlow.Providers.Domain;

namespace AgenticFlow.Providers.Storage;

/// <summary>One call's cost, as recorded.</summary>
public sealed record CostRecord(string Id, DateTimeOffset At, string Provider, string Model, string Caller, long InputTokens, long OutputTokens, decimal CostUsd, double LatencyMs);

/// <summary>
/// Every call's cost, in the Dapr state store: one document per UTC hour holding that hour's records, and one
/// running total per caller per UTC day for budgets. Both change in one ETag-guarded transaction, so concurrent
/// calls and replicas never lose a record.
/// </summary>
public sealed class CostLedger(DaprClient dapr, IOptions<ProvidersOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static string HourKey(DateTimeOffset at) => "costs:" + at.UtcDateTime.ToString("yyyyMMddHH", System.Globalization.CultureInfo.InvariantCulture);
    public static string SpendKey(string caller, DateTimeOffset at) => $"spend:{caller}:{at.UtcDateTime:yyyyMMdd}";

    public async Task<decimal> SpentTodayAsync(string caller, DateTimeOffset now, CancellationToken ct) =>
        await dapr.GetStateAsync<decimal?>(options.Value.StateStore, SpendKey(caller, now), cancellationToken: ct) ?? 0m;

    public decimal BudgetFor(string caller) =>
        options.Value.Budgets.TryGetValue(caller, out var budget) ? budget : options.Value.DailyBudgetUsd;

    public async Task RecordAsync(CostRecord record, CancellationToken ct)
    {
        var store = options.Value.StateStore;
        for (var attempt = 0; ; attempt++)
        {
            var (hour, hourTag) = await dapr.GetStateAndETagAsync<List<CostRecord>?>(store, HourKey(record.At), cancellationToken: ct);
            var (spent, spentTag) = await dapr.GetStateAndETagAsync<decimal?>(store, SpendKey(record.Caller, record.At), cancellationToken: ct);
            hour ??= [];
            hour.Add(record);
            try
            {
                await dapr.ExecuteStateTransactionAsync(store,
                [
                    Write(HourKey(record.At), hour, hourTag, 40 * 86_400),
                    Write(SpendKey(record.Caller, record.At), (spent ?? 0m) + record.CostUsd, spentTag, 3 * 86_400),
                ], cancellationToken: ct);
                return;
            }
            catch (DaprException ex) when (ex.InnerException is RpcException { StatusCode: StatusCode.Aborted } && attempt < 50)
            {
                await Task.Delay(Random.Shared.Next(1, 5 + attempt), ct);
            }
        }
    }

    public async Task<IReadOnlyList<CostRecord>> RangeAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var keys = new List<string>();
        for (var hour = new DateTimeOffset(from.UtcDateTime.Date.AddHours(from.UtcDateTime.Hour), TimeSpan.Zero); hour <= to; hour = hour.AddHours(1))
        {
            keys.Add(HourKey(hour));
        }
        var items = await dapr.GetBulkStateAsync<List<CostRecord>>(options.Value.StateStore, keys, parallelism: 8, cancellationToken: ct);
        return items.Where(i => i.Value is not null).SelectMany(i => i.Value).Where(r => r.At >= from && r.At <= to).OrderBy(r => r.At).ToList();
    }

    private static StateTransactionRequest Write<T>(string key, T value, string? etag, int ttlSeconds) => new(
        key, JsonSerializer.SerializeToUtf8Bytes(value, Json), StateOperationType.Upsert,
        string.IsNullOrEmpty(etag) ? null : etag,
        new Dictionary<string, string> { ["ttlInSeconds"] = ttlSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        string.IsNullOrEmpty(etag) ? new StateOptions { Concurrency = ConcurrencyMode.FirstWrite } : null);
}
