using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Tests.Infrastructure;
using Dapr;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace AgenticFlow.LocalRuntime.Tests;

/// <summary>Secret stores, secret references in component metadata, and the localstorage and cron bindings.</summary>
public sealed class SecretsAndBindingsTests
{
    private static ComponentsFolder WithSecrets(out string secretsFile, out string storageRoot)
    {
        var folder = new ComponentsFolder();
        secretsFile = Path.Combine(folder.Path, "secrets.json");
        storageRoot = Path.Combine(folder.Path, "files-from-secret");
        File.WriteAllText(secretsFile, JsonSerializer.Serialize(new { db = new { password = "pa55", user = "app" }, storage = new { root = storageRoot }, plain = "value" }));
        return folder
            .Add("secrets.yaml", $"""
                apiVersion: dapr.io/v1alpha1
                kind: Component
                metadata:
                  name: localsecrets
                spec:
                  type: secretstores.local.file
                  version: v1
                  metadata:
                  - name: secretsFile
                    value: "{secretsFile}"
                """)
            .Add("files.yaml", """
                apiVersion: dapr.io/v1alpha1
                kind: Component
                metadata:
                  name: files
                spec:
                  type: bindings.localstorage
                  version: v1
                  metadata:
                  - name: rootPath
                    secretKeyRef:
                      name: storage:root
                      key: storage:root
                auth:
                  secretStore: localsecrets
                """);
    }

    [Fact]
    public async Task LocalFileSecrets_AreReadThroughTheSdk_NestedKeysFlattened()
    {
        using var folder = WithSecrets(out _, out _);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("sec"), folder.Path);

        var password = await sidecar.Client.GetSecretAsync("localsecrets", "db:password");
        var all = await sidecar.Client.GetBulkSecretAsync("localsecrets");
        var http = await sidecar.Http.GetStringAsync("/v1.0/secrets/localsecrets/plain");

        Assert.Equal("pa55", password["db:password"]);
        Assert.Equal("app", all["db:user"]["db:user"]);
        Assert.Equal("""{"plain":"value"}""", http);
        await Assert.ThrowsAnyAsync<DaprException>(() => sidecar.Client.GetSecretAsync("localsecrets", "missing"));
        var unknownStore = await sidecar.Http.GetAsync("/v1.0/secrets/nostore/x");
        Assert.Equal(HttpStatusCode.Unauthorized, unknownStore.StatusCode);
        Assert.Contains("ERR_SECRET_STORE_NOT_FOUND", await unknownStore.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task LocalStorageBinding_TakesItsRootFromASecret_AndCreatesReadsListsDeletes()
    {
        using var folder = WithSecrets(out _, out var root);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("bind"), folder.Path);

        await sidecar.Client.InvokeBindingAsync("files", "create", "hello file", new Dictionary<string, string> { ["fileName"] = "notes/a.txt" });
        var read = await sidecar.Client.InvokeBindingAsync(new Dapr.Client.BindingRequest("files", "get") { Metadata = { ["fileName"] = "notes/a.txt" } });
        var list = await sidecar.Client.InvokeBindingAsync(new Dapr.Client.BindingRequest("files", "list"));

        Assert.Equal("\"hello file\"", File.ReadAllText(Path.Combine(root, "notes", "a.txt")));
        Assert.Equal("\"hello file\"", Encoding.UTF8.GetString(read.Data.Span));
        Assert.Equal("""["notes/a.txt"]""", Encoding.UTF8.GetString(list.Data.Span));

        await Assert.ThrowsAnyAsync<DaprException>(() => sidecar.Client.InvokeBindingAsync("files", "create", "x", new Dictionary<string, string> { ["fileName"] = "../escape.txt" }));
        Assert.False(File.Exists(Path.Combine(root, "..", "escape.txt")));

        await sidecar.Client.InvokeBindingAsync(new Dapr.Client.BindingRequest("files", "delete") { Metadata = { ["fileName"] = "notes/a.txt" } });
        Assert.False(File.Exists(Path.Combine(root, "notes", "a.txt")));
    }

    [Fact]
    public async Task CronBinding_CallsTheAppOnSchedule()
    {
        var calls = new ConcurrentQueue<DateTime>();
        await using var app = await TestApp.StartAsync((web, _) => web.MapPost("/tick", () => { calls.Enqueue(DateTime.UtcNow); return Results.Ok(); }));
        using var folder = new ComponentsFolder().Add("cron.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: tick
            spec:
              type: bindings.cron
              version: v1
              metadata:
              - name: schedule
                value: "@every 200ms"
            """);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("cron"), folder.Path, app.Port);

        await Eventually.True(() => calls.Count >= 3, "three cron calls");
    }

    [Fact]
    public async Task EnvSecretStore_ReadsPrefixedVariables()
    {
        Environment.SetEnvironmentVariable("AFTEST_TOKEN", "from-env");
        using var folder = new ComponentsFolder().Add("env.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: envsecrets
            spec:
              type: secretstores.local.env
              version: v1
              metadata:
              - name: prefix
                value: AFTEST_
            """);
        await using var sidecar = await TestSidecar.StartAsync(TestServers.NewId("env"), folder.Path);

        var secret = await sidecar.Client.GetSecretAsync("envsecrets", "TOKEN");

        Assert.Equal("from-env", secret["TOKEN"]);
    }

    [Fact]
    public void UnsupportedComponentType_StopsTheStart_NamingFileComponentAndSupportedTypes()
    {
        using var folder = new ComponentsFolder().Add("kafka.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: events
            spec:
              type: pubsub.kafka
              version: v1
            """);

        var error = Assert.Throws<ComponentException>(() => ComponentRegistry.Validate(ResourceLoader.Load([folder.Path])));

        Assert.Contains("kafka.yaml", error.Message);
        Assert.Contains("'events'", error.Message);
        Assert.Contains("pubsub.kafka", error.Message);
        Assert.Contains("state.postgresql", error.Message);
    }

    [Fact]
    public async Task Scopes_HideAComponentFromOtherApps()
    {
        using var folder = new ComponentsFolder().Add("scoped.yaml", """
            apiVersion: dapr.io/v1alpha1
            kind: Component
            metadata:
              name: private
            spec:
              type: state.in-memory
              version: v1
            scopes:
            - owner-app
            """);
        await using var owner = await TestSidecar.StartAsync("owner-app", folder.Path);
        await using var other = await TestSidecar.StartAsync(TestServers.NewId("other"), folder.Path);

        await owner.Client.SaveStateAsync("private", "k", 1);
        var response = await other.Http.GetAsync("/v1.0/state/private/k");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("ERR_STATE_STORE_NOT_CONFIGURED", await response.Content.ReadAsStringAsync());
    }
}
