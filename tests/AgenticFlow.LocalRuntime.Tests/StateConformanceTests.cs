using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr;
using Dapr.Client;
using Grpc.Core;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>The Dapr state API, driven through the Dapr .NET SDK and raw HTTP, against every state store type.</summary>
public sealed class StateConformanceTests
{
    public static TheoryData<string> Stores => new() { "in-memory", "sqlite", "redis", "postgresql" };

    public sealed record Order(string Id, string State, int Amount);

    private static async Task<(TestSidecar Sidecar, ComponentsFolder Folder)> Start(string store)
    {
        var folder = new ComponentsFolder().State(store);
        return (await TestSidecar.StartAsync(TestServers.NewId("state"), folder.Path), folder);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task SaveAndGet_RoundTripThroughTheSdk(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;

        await sidecar.Client.SaveStateAsync("statestore", "order-1", new Order("1", "CA", 10));
        var read = await sidecar.Client.GetStateAsync<Order>("statestore", "order-1");
        var missing = await sidecar.Client.GetStateAsync<Order>("statestore", "nope");

        Assert.Equal(new Order("1", "CA", 10), read);
        Assert.Null(missing);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task StaleETag_IsRejected_AndTheValueIsKept(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;

        await sidecar.Client.SaveStateAsync("statestore", "k", "v1");
        var (_, etag1) = await sidecar.Client.GetStateAndETagAsync<string>("statestore", "k");
        Assert.True(await sidecar.Client.TrySaveStateAsync("statestore", "k", "v2", etag1));
        var (_, etag2) = await sidecar.Client.GetStateAndETagAsync<string>("statestore", "k");

        Assert.NotEqual(etag1, etag2);
        Assert.False(await sidecar.Client.TrySaveStateAsync("statestore", "k", "v3", etag1));
        Assert.False(await sidecar.Client.TryDeleteStateAsync("statestore", "k", etag1));
        Assert.Equal("v2", await sidecar.Client.GetStateAsync<string>("statestore", "k"));
        Assert.True(await sidecar.Client.TryDeleteStateAsync("statestore", "k", etag2));
        Assert.Null(await sidecar.Client.GetStateAsync<string>("statestore", "k"));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ConcurrentWritersWithOneETag_ExactlyOneWins(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;

        await sidecar.Client.SaveStateAsync("statestore", "counter", 0);
        var (_, etag) = await sidecar.Client.GetStateAndETagAsync<int>("statestore", "counter");
        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => sidecar.Client.TrySaveStateAsync("statestore", "counter", i, etag)));

        Assert.Equal(1, results.Count(r => r));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task ManyConcurrentTransactions_EachStandsOrFallsAlone(string store)
    {
        // SQLite commits concurrent transactions together: a failed ETag check must undo its own transaction only.
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;
        await sidecar.Client.SaveStateAsync("statestore", "shared", 0);
        var (_, etag) = await sidecar.Client.GetStateAndETagAsync<int>("statestore", "shared");

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            // Even transactions write their own key and the shared key under its one ETag (at most one can win);
            // odd ones write only their own key, with nothing to fail on.
            var ops = new List<StateTransactionRequest> { new($"own-{i}", JsonSerializer.SerializeToUtf8Bytes(i), StateOperationType.Upsert) };
            if (i % 2 == 0)
            {
                ops.Add(new StateTransactionRequest("shared", JsonSerializer.SerializeToUtf8Bytes(i), StateOperationType.Upsert, etag));
            }
            try
            {
                await sidecar.Client.ExecuteStateTransactionAsync("statestore", ops);
                return (i, ok: true);
            }
            catch (DaprException)
            {
                return (i, ok: false);
            }
        }));

        Assert.All(outcomes.Where(o => o.i % 2 == 1), o => Assert.True(o.ok));
        var winners = outcomes.Where(o => o.i % 2 == 0 && o.ok).Select(o => o.i).ToList();
        Assert.Single(winners);
        Assert.Equal(winners[0], await sidecar.Client.GetStateAsync<int>("statestore", "shared"));
        var own = await sidecar.Client.GetBulkStateAsync("statestore", Enumerable.Range(0, 40).Select(i => $"own-{i}").ToList(), parallelism: 4);
        var written = own.Where(item => !string.IsNullOrEmpty(item.Value)).Select(item => int.Parse(item.Key[4..])).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 40).Where(i => i % 2 == 1 || i == winners[0]), written);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task FirstWriteWithoutETag_FailsWhenTheItemExists(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;
        var item = new[] { new { key = "once", value = "a", options = new { concurrency = "first-write" } } };

        var first = await sidecar.Http.PostAsJsonAsync("/v1.0/state/statestore", item);
        var second = await sidecar.Http.PostAsJsonAsync("/v1.0/state/statestore", item);

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal("ERR_STATE_SAVE", (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errorCode").GetString());
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Transaction_WithOneStaleETag_ChangesNothing(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;
        await sidecar.Client.SaveStateAsync("statestore", "a", "a0");
        await sidecar.Client.SaveStateAsync("statestore", "b", "b0");

        var bad = new List<StateTransactionRequest>
        {
            new("a", JsonSerializer.SerializeToUtf8Bytes("a1"), StateOperationType.Upsert),
            new("c", JsonSerializer.SerializeToUtf8Bytes("c1"), StateOperationType.Upsert),
            new("b", null, StateOperationType.Delete, etag: "12345"),
        };
        await Assert.ThrowsAnyAsync<DaprException>(() => sidecar.Client.ExecuteStateTransactionAsync("statestore", bad));

        Assert.Equal("a0", await sidecar.Client.GetStateAsync<string>("statestore", "a"));
        Assert.Equal("b0", await sidecar.Client.GetStateAsync<string>("statestore", "b"));
        Assert.Null(await sidecar.Client.GetStateAsync<string>("statestore", "c"));

        var good = new List<StateTransactionRequest>
        {
            new("a", JsonSerializer.SerializeToUtf8Bytes("a1"), StateOperationType.Upsert),
            new("b", null, StateOperationType.Delete),
        };
        await sidecar.Client.ExecuteStateTransactionAsync("statestore", good);
        Assert.Equal("a1", await sidecar.Client.GetStateAsync<string>("statestore", "a"));
        Assert.Null(await sidecar.Client.GetStateAsync<string>("statestore", "b"));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task TtlInSeconds_ExpiresTheItem(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;

        await sidecar.Client.SaveStateAsync("statestore", "short", "lived", metadata: new Dictionary<string, string> { ["ttlInSeconds"] = "1" });
        await sidecar.Client.SaveStateAsync("statestore", "long", "lived");
        Assert.Equal("lived", await sidecar.Client.GetStateAsync<string>("statestore", "short"));

        await Eventually.True(async () => await sidecar.Client.GetStateAsync<string>("statestore", "short") is null, "the item with a 1s TTL to expire", 10);
        Assert.Equal("lived", await sidecar.Client.GetStateAsync<string>("statestore", "long"));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task BulkGetAndBulkDelete_HandleManyKeys(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;
        await sidecar.Client.SaveBulkStateAsync("statestore", Enumerable.Range(0, 5).Select(i => new SaveStateItem<int>($"n{i}", i, null!)).ToList());

        var items = await sidecar.Client.GetBulkStateAsync("statestore", ["n0", "n3", "missing"], parallelism: 2);
        Assert.Equal("0", items.Single(i => i.Key == "n0").Value);
        Assert.Equal("3", items.Single(i => i.Key == "n3").Value);
        Assert.True(string.IsNullOrEmpty(items.Single(i => i.Key == "missing").Value));

        await sidecar.Client.DeleteBulkStateAsync("statestore", [new BulkDeleteStateItem("n0", null!), new BulkDeleteStateItem("n1", null!)]);
        var after = await sidecar.Client.GetBulkStateAsync("statestore", ["n0", "n1", "n2"], parallelism: 1);
        Assert.Equal(["n2"], after.Where(i => !string.IsNullOrEmpty(i.Value)).Select(i => i.Key));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Query_FiltersSortsAndPages(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;
        var orders = new[] { new Order("1", "CA", 5), new Order("2", "WA", 7), new Order("3", "CA", 9), new Order("4", "NY", 1), new Order("5", "CA", 3) };
        foreach (var o in orders)
        {
            await sidecar.Client.SaveStateAsync("statestore", "order-" + o.Id, o);
        }
        const string query = """
            {"filter": {"OR": [{"EQ": {"state": "CA"}}, {"IN": {"state": ["WA"]}}]},
             "sort": [{"key": "amount", "order": "DESC"}],
             "page": {"limit": 3}}
            """;

        var first = await sidecar.Client.QueryStateAsync<Order>("statestore", query);
        Assert.Equal(["3", "2", "1"], first.Results.Select(r => r.Data!.Id));
        Assert.False(string.IsNullOrEmpty(first.Token));

        var nextQuery = query.Replace("\"limit\": 3", $"\"limit\": 3, \"token\": \"{first.Token}\"");
        var second = await sidecar.Client.QueryStateAsync<Order>("statestore", nextQuery);
        Assert.Equal(["5"], second.Results.Select(r => r.Data!.Id));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task HttpApi_SavesReadsAndDeletesWithETags(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;

        var save = await sidecar.Http.PostAsync("/v1.0/state/statestore", Json("""[{"key":"h","value":{"n":1}}]"""));
        Assert.Equal(HttpStatusCode.NoContent, save.StatusCode);
        var get = await sidecar.Http.GetAsync("/v1.0/state/statestore/h");
        var etag = get.Headers.ETag?.Tag ?? get.Headers.GetValues("ETag").Single();
        Assert.Equal("""{"n":1}""", await get.Content.ReadAsStringAsync());

        using var staleDelete = new HttpRequestMessage(HttpMethod.Delete, "/v1.0/state/statestore/h");
        staleDelete.Headers.TryAddWithoutValidation("If-Match", "999");
        Assert.Equal(HttpStatusCode.Conflict, (await sidecar.Http.SendAsync(staleDelete)).StatusCode);

        using var delete = new HttpRequestMessage(HttpMethod.Delete, "/v1.0/state/statestore/h");
        delete.Headers.TryAddWithoutValidation("If-Match", etag);
        Assert.Equal(HttpStatusCode.NoContent, (await sidecar.Http.SendAsync(delete)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await sidecar.Http.GetAsync("/v1.0/state/statestore/h")).StatusCode);
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task MalformedRequests_GetDaprErrors_AndChangeNothing(string store)
    {
        var (sidecar, folder) = await Start(store);
        await using var _ = sidecar;
        using var __ = folder;
        await sidecar.Client.SaveStateAsync("statestore", "keep", "original");

        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/statestore", Json("[{\"key\":\"keep\",\"value\":")), HttpStatusCode.BadRequest, "ERR_MALFORMED_REQUEST");
        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/statestore", Json("""{"key":"keep","value":"x"}""")), HttpStatusCode.BadRequest, "ERR_MALFORMED_REQUEST");
        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/statestore", Json("""[{"key":"a||b","value":"x"}]""")), HttpStatusCode.BadRequest, "ERR_MALFORMED_REQUEST");
        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/statestore", Json("""[{"key":"keep","value":"x","metadata":{"ttlInSeconds":"soon"}}]""")), HttpStatusCode.BadRequest, "ERR_MALFORMED_REQUEST");
        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/nostore", Json("""[{"key":"keep","value":"x"}]""")), HttpStatusCode.BadRequest, "ERR_STATE_STORE_NOT_FOUND");
        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/statestore/transaction", Json("""{"operations":[{"operation":"upsert","request":{"key":"keep","value":"x"}},{"operation":"merge","request":{"key":"keep"}}]}""")), HttpStatusCode.BadRequest, "ERR_NOT_SUPPORTED_STATE_OPERATION");
        await AssertError(await sidecar.Http.PostAsync("/v1.0-alpha1/state/statestore/query", Json("""{"filter":{"LIKE":{"a":"b"}}}""")), HttpStatusCode.BadRequest, "ERR_MALFORMED_REQUEST");
        await AssertError(await sidecar.Http.PostAsync("/v1.0/state/statestore", Json("""[{"key":"keep","value":"x","etag":"not-a-version"}]""")), HttpStatusCode.BadRequest, "ERR_STATE_SAVE");

        var grpc = await Assert.ThrowsAnyAsync<DaprException>(() => sidecar.Client.SaveStateAsync("statestore", "bad||key", "x"));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(grpc.InnerException).StatusCode);
        var unknown = await Assert.ThrowsAnyAsync<DaprException>(() => sidecar.Client.GetStateAsync<string>("nostore", "keep"));
        Assert.Equal(StatusCode.InvalidArgument, Assert.IsType<RpcException>(unknown.InnerException).StatusCode);

        Assert.Equal("original", await sidecar.Client.GetStateAsync<string>("statestore", "keep"));
    }

    [Fact]
    public async Task KeyPrefix_SeparatesAppsUnlessSetToNone()
    {
        using var folder = new ComponentsFolder().State("sqlite").State("sqlite", "shared", "  - name: keyPrefix\n    value: none\n");
        await using var a = await TestSidecar.StartAsync(TestServers.NewId("a"), folder.Path);
        await using var b = await TestSidecar.StartAsync(TestServers.NewId("b"), folder.Path);

        await a.Client.SaveStateAsync("statestore", "same", "from-a");
        await a.Client.SaveStateAsync("shared", "same", "from-a");

        Assert.Null(await b.Client.GetStateAsync<string>("statestore", "same"));
        Assert.Equal("from-a", await b.Client.GetStateAsync<string>("shared", "same"));
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string errorCode)
    {
        Assert.Equal(status, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(errorCode, body.GetProperty("errorCode").GetString());
    }
}
