using System.Diagnostics;
using System.Text.RegularExpressions;
using AgenticFlow.Gateway.Routing;
using AgenticFlow.LocalRuntime.Cli;
using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace AgenticFlow.Deployment.Tests;

/// <summary>
/// Every overlay under k8s/ rendered with kubectl kustomize and held to the platform's deployment rules: each app of
/// dapr.yaml deployed with matching Dapr annotations, probes, limits, non-root, a disruption budget, autoscaling and
/// network policy; components scoped and free of secret literals; access control lists that allow exactly the calls
/// the gateway's route table makes. These check shape only: no cluster runs on the machines this is built on.
/// </summary>
public sealed class ManifestPolicyTests
{
    private static readonly string Repo = FindRepo();

    /// <summary>The platform's app ids (ARCHITECTURE.md): components may be scoped to services still to come.</summary>
    private static readonly string[] PlatformApps = ["agents", "coordination", "workflows", "messaging", "neural", "memory", "providers", "monitoring", "gateway"];

    public static TheoryData<string> Overlays()
    {
        var data = new TheoryData<string>();
        foreach (var overlay in Directory.GetDirectories(Path.Combine(FindRepo(), "k8s", "overlays")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(overlay));
        }
        return data;
    }

    private static string FindRepo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticFlow.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("AgenticFlow.sln not found");
    }

    private sealed record Rendered(List<(string Kind, string Name, string Yaml, YamlMappingNode Node)> Objects)
    {
        public IEnumerable<T> Typed<T>(string kind) => Objects.Where(o => o.Kind == kind).Select(o => KubernetesYaml.Deserialize<T>(o.Yaml));

        public IEnumerable<YamlMappingNode> Custom(string kind) => Objects.Where(o => o.Kind == kind).Select(o => o.Node);
    }

    private static Rendered Render(string overlay)
    {
        var info = new ProcessStartInfo("kubectl", ["kustomize", Path.Combine(Repo, "k8s", "overlays", overlay)]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"kubectl kustomize {overlay} failed: {errors}");
        var objects = new List<(string, string, string, YamlMappingNode)>();
        foreach (var document in Regex.Split(output, @"^---\s*$", RegexOptions.Multiline).Where(d => d.Trim().Length > 0))
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(document));
            var node = (YamlMappingNode)stream.Documents[0].RootNode;
            objects.Add((Scalar(node, "kind")!, Scalar(Child(node, "metadata"), "name")!, document, node));
        }
        return new Rendered(objects);
    }

    private static YamlNode? Child(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlNode? node, string key) => (Child(node, key) as YamlScalarNode)?.Value;

    private static IEnumerable<YamlNode> Items(YamlNode? node) => node is YamlSequenceNode seq ? seq.Children : [];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void EveryAppOfTheRunFile_IsDeployedWithItsDaprAnnotations(string overlay)
    {
        var rendered = Render(overlay);
        var deployments = rendered.Typed<V1Deployment>("Deployment").ToList();
        var configurations = rendered.Custom("Configuration").Select(c => Scalar(Child(c, "metadata"), "name")).ToHashSet();
        var probes = rendered.Typed<V1NetworkPolicy>("NetworkPolicy").Where(p => p.Metadata.Name == "probes")
            .SelectMany(p => p.Spec.Ingress ?? []).SelectMany(i => i.Ports ?? []).Select(port => port.Port?.Value).OfType<string>().ToHashSet();
        foreach (var app in RunFile.Load(Path.Combine(Repo, "dapr.yaml")))
        {
            var mine = deployments.Where(d => d.Spec.Template.Metadata.Annotations is { } a && a.TryGetValue("dapr.io/app-id", out var id) && id == app.AppId).ToList();
            Assert.True(mine.Count > 0, $"{overlay}: no Deployment runs app {app.AppId}");
            foreach (V1Deployment deployment in mine)
            {
                var annotations = deployment.Spec.Template.Metadata.Annotations;
                Assert.Equal("true", annotations["dapr.io/enabled"]);
                Assert.Equal(app.AppPort?.ToString(), annotations["dapr.io/app-port"]);
                Assert.Equal("http", annotations["dapr.io/app-protocol"]);
                Assert.Contains("dapr.io/enable-api-logging", annotations.Keys);
                Assert.Contains("dapr.io/api-token-secret", annotations.Keys);
                Assert.All(new[] { "dapr.io/sidecar-cpu-request", "dapr.io/sidecar-memory-request", "dapr.io/sidecar-cpu-limit", "dapr.io/sidecar-memory-limit" }, a => Assert.Contains(a, annotations.Keys));
                // Its own Configuration (secret scopes and access control are per app): another's would give it that app's secrets.
                Assert.Equal(app.AppId, annotations["dapr.io/config"]);
                Assert.Contains(annotations["dapr.io/config"], configurations);
                // The container listens where the sidecar calls it, and the kubelet's probes may reach that port.
                Assert.Contains(deployment.Spec.Template.Spec.Containers.SelectMany(c => c.Ports ?? []), p => p.ContainerPort == app.AppPort);
                Assert.True(probes.Contains(app.AppPort?.ToString() ?? ""), $"{overlay}: the probes NetworkPolicy does not admit {app.AppId}'s port {app.AppPort}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void EveryGateway_AdvertisesTheIngressHostAsItsPublicBaseUrl(string overlay)
    {
        // A2A cards are built from Gateway:PublicBaseUrl, never the request's Host: it must be the address this overlay's
        // Ingress serves (its host, https exactly when it terminates TLS).
        var rendered = Render(overlay);
        var ingress = Assert.Single(rendered.Typed<V1Ingress>("Ingress"));
        var host = ingress.Spec.Rules[0].Host;
        var scheme = ingress.Spec.Tls is { Count: > 0 } ? "https" : "http";
        var gateways = rendered.Typed<V1Deployment>("Deployment")
            .Where(d => d.Spec.Template.Metadata.Annotations is { } a && a.TryGetValue("dapr.io/app-id", out var id) && id == "gateway").ToList();
        Assert.NotEmpty(gateways);
        foreach (V1Deployment gateway in gateways)
        {
            var value = gateway.Spec.Template.Spec.Containers.SelectMany(c => c.Env ?? new List<V1EnvVar>()).SingleOrDefault(e => e.Name == "Gateway__PublicBaseUrl")?.Value;
            Assert.True(value is not null, $"{overlay}/{gateway.Metadata.Name}: no Gateway__PublicBaseUrl");
            var url = new Uri(value);
            Assert.Equal((scheme, host), (url.Scheme, url.Host));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void EveryDeployment_HasLimitsProbesNonRootABudgetAutoscalingAndANetworkPolicy(string overlay)
    {
        var rendered = Render(overlay);
        var budgets = rendered.Typed<V1PodDisruptionBudget>("PodDisruptionBudget").ToList();
        var autoscalers = rendered.Typed<V2HorizontalPodAutoscaler>("HorizontalPodAutoscaler").ToList();
        var policies = rendered.Typed<V1NetworkPolicy>("NetworkPolicy").ToList();
        Assert.Contains(policies, p => p.Spec.PodSelector.MatchLabels is null or { Count: 0 } && p.Spec.PolicyTypes.Contains("Ingress") && p.Spec.PolicyTypes.Contains("Egress") && p.Spec.Ingress is null && p.Spec.Egress is null);
        foreach (var deployment in rendered.Typed<V1Deployment>("Deployment"))
        {
            var name = deployment.Metadata.Name;
            var labels = deployment.Spec.Template.Metadata.Labels;
            bool Selects(IDictionary<string, string>? selector) => selector is { Count: > 0 } && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);
            var pod = deployment.Spec.Template.Spec;
            Assert.True(pod.SecurityContext?.RunAsNonRoot == true, $"{overlay}/{name}: runAsNonRoot");
            foreach (var container in pod.Containers)
            {
                Assert.True(container.Resources?.Requests?.ContainsKey("cpu") == true && container.Resources.Limits?.ContainsKey("memory") == true, $"{overlay}/{name}: resources");
                Assert.Equal("/healthz", container.LivenessProbe?.HttpGet?.Path);
                Assert.Equal("/readyz", container.ReadinessProbe?.HttpGet?.Path);
                Assert.True(container.SecurityContext?.ReadOnlyRootFilesystem == true && container.SecurityContext.AllowPrivilegeEscalation == false, $"{overlay}/{name}: read-only root, no escalation");
            }
            Assert.True(budgets.Any(b => Selects(b.Spec.Selector.MatchLabels)), $"{overlay}/{name}: no PodDisruptionBudget");
            // The idle slot of a blue-green pair runs no replicas and so has nothing to scale.
            if (deployment.Spec.Replicas is not 0)
            {
                Assert.True(autoscalers.Any(h => h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == name), $"{overlay}/{name}: no HorizontalPodAutoscaler");
            }
            Assert.True(policies.Any(p => Selects(p.Spec.PodSelector.MatchLabels)), $"{overlay}/{name}: no NetworkPolicy allows its traffic");
            Assert.Equal("RollingUpdate", deployment.Spec.Strategy?.Type);
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Components_AreScopedToPlatformApps_AndHoldNoSecretLiterals(string overlay)
    {
        var secretish = new Regex("(password|token|secretkey|accesskey|connectionstring|username)$", RegexOptions.IgnoreCase);
        var components = Render(overlay).Custom("Component").ToList();
        Assert.NotEmpty(components);
        foreach (var component in components)
        {
            var name = Scalar(Child(component, "metadata"), "name");
            var scopes = Items(Child(component, "scopes")).Select(s => ((YamlScalarNode)s).Value!).ToList();
            Assert.True(scopes.Count > 0, $"{overlay}: component {name} has no scopes");
            Assert.All(scopes, s => Assert.Contains(s, PlatformApps));
            foreach (var entry in Items(Child(Child(component, "spec"), "metadata")))
            {
                var key = Scalar(entry, "name")!;
                if (secretish.IsMatch(key))
                {
                    Assert.True(Child(entry, "secretKeyRef") is not null && Scalar(entry, "value") is null, $"{overlay}: component {name} holds {key} as a literal");
                }
            }
        }
    }

    /// <summary>Calls the services make to each other by Dapr invocation (besides the gateway's routes): caller, target,
    /// verb, path (ids as x). A service that starts calling another adds its call here and to the target's policy.</summary>
    public static readonly IReadOnlyList<(string Caller, string Target, string Verb, string Path)> ServiceCalls =
    [
        // agents: external agents' work into their queues, llm agents' completions, results/votes/drains to coordination.
        ("agents", "messaging", "POST", "/api/v1/messages"),
        ("agents", "providers", "POST", "/api/v1/providers/complete"),
        ("agents", "coordination", "POST", "/internal/tasks/x/result"),
        ("agents", "coordination", "POST", "/internal/consensus/x/votes"),
        ("agents", "coordination", "POST", "/internal/agents/x/drain"),
        // coordination (agents-coordination contract): work for agents, and agent reads.
        ("coordination", "agents", "POST", "/internal/agents/x/tasks"),
        ("coordination", "agents", "POST", "/internal/agents/x/votes"),
        ("coordination", "agents", "GET", "/api/v1/agents"),
        ("coordination", "agents", "GET", "/api/v1/agents/x"),
        // messaging resolves a team recipient's members.
        ("messaging", "coordination", "GET", "/api/v1/teams/x"),
        // memory reads entities and relations from a memory's text with an LLM.
        ("memory", "providers", "POST", "/api/v1/providers/complete"),
        // monitoring: readiness of every app with an app channel, alert notifications to topics through messaging.
        ("monitoring", "agents", "GET", "/readyz"),
        ("monitoring", "messaging", "GET", "/readyz"),
        ("monitoring", "memory", "GET", "/readyz"),
        ("monitoring", "coordination", "GET", "/readyz"),
        ("monitoring", "providers", "GET", "/readyz"),
        ("monitoring", "neural", "GET", "/readyz"),
        ("monitoring", "workflows", "GET", "/readyz"),
        ("monitoring", "messaging", "POST", "/api/v1/messages"),
        // Every service exports OTLP to monitoring through its own sidecar (monitoring its metrics and logs only).
        .. new[] { "agents", "messaging", "memory", "coordination", "providers", "neural", "workflows", "gateway" }
            .SelectMany(app => new[] { "metrics", "logs", "traces" }.Select(signal => (app, "monitoring", "POST", "/v1/" + signal))),
        ("monitoring", "monitoring", "POST", "/v1/metrics"),
        ("monitoring", "monitoring", "POST", "/v1/logs"),
        // neural trains the task-router from completed tasks; coordination's learned strategy asks it.
        ("neural", "coordination", "GET", "/api/v1/teams"),
        ("neural", "coordination", "GET", "/api/v1/teams/x/tasks"),
        ("coordination", "neural", "POST", "/api/v1/models/inference"),
        // workflows: llm steps, and agent-task steps submitting a team task and reading it back.
        ("workflows", "providers", "POST", "/api/v1/providers/complete"),
        ("workflows", "coordination", "POST", "/api/v1/teams/x/tasks"),
        ("workflows", "coordination", "GET", "/api/v1/teams/x/tasks/x"),
    ];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void AccessControl_AllowsExactlyTheCallsTheGatewayAndTheServicesMake(string overlay)
    {
        var configurations = Render(overlay).Custom("Configuration").ToDictionary(c => Scalar(Child(c, "metadata"), "name")!);
        var calls = RouteTable.Routes.SelectMany(r => r.Methods.Select(m => (Caller: "gateway", Target: r.AppId, Verb: m, Path: Regex.Replace(r.Path, @"\{\*\*[^}]+\}|\{[^}]+\}", "x"))))
            .Concat(ServiceCalls).ToList();
        foreach (var (appId, configuration) in configurations)
        {
            var control = Child(Child(configuration, "spec"), "accessControl");
            Assert.True(control is not null, $"{overlay}: Configuration {appId} has no accessControl");
            Assert.Equal("deny", Scalar(control, "defaultAction"));
            var policies = Items(Child(control, "policies")).ToList();
            var expected = calls.Where(c => c.Target == appId).ToList();
            // A policy for a caller that makes no call to this app would allow a call the code does not make.
            foreach (var caller in expected.Select(c => c.Caller).Distinct())
            {
                Assert.True(policies.Any(p => Scalar(p, "appId") == caller), $"{overlay}: {appId} has no policy for its caller {caller}");
            }
            foreach (var policy in policies)
            {
                var caller = Scalar(policy, "appId")!;
                var mine = expected.Where(c => c.Caller == caller).ToList();
                Assert.True(mine.Count > 0, $"{overlay}: {appId} has a policy for {caller}, which makes no call to it");
                var operations = Items(Child(policy, "operations")).Select(o => (
                    Name: Scalar(o, "name")!, Verbs: Items(Child(o, "httpVerb")).Select(v => ((YamlScalarNode)v).Value!).ToList(), Allow: Scalar(o, "action") == "allow")).ToList();
                foreach (var call in mine)
                {
                    Assert.True(operations.Any(o => o.Allow && o.Verbs.Contains(call.Verb) && Matches(o.Name, call.Path)), $"{overlay}: {appId} does not allow {caller}'s {call.Verb} {call.Path}");
                }
                foreach (var operation in operations.Where(o => o.Allow))
                {
                    foreach (var verb in operation.Verbs)
                    {
                        Assert.True(mine.Any(c => c.Verb == verb && Matches(operation.Name, c.Path)), $"{overlay}: {appId} allows {caller} {verb} {operation.Name}, which {caller} never calls");
                    }
                }
            }
            if (expected.Count == 0)
            {
                Assert.Empty(policies);
            }
        }
    }

    /// <summary>
    /// In Kubernetes every app's scope on a secret store that several apps load is deny, allowing only names that are
    /// that app's alone; a store an app reads by prefix (agents' mcp-*, providers' provider-*) is loaded by that app alone;
    /// and the secrets components resolve (Kafka's, Cassandra's, S3's…) are allowed to no app.
    /// </summary>
    [Theory]
    [MemberData(nameof(Overlays))]
    public void SecretScopes_GiveEachSecretToOneAppAtMost_InKubernetes(string overlay)
    {
        var rendered = Render(overlay);
        var storeComponents = rendered.Custom("Component").Where(c => Scalar(Child(c, "spec"), "type")?.StartsWith("secretstores.", StringComparison.Ordinal) == true).ToList();
        // A component without scopes is loaded by every app.
        var stores = storeComponents.ToDictionary(c => Scalar(Child(c, "metadata"), "name")!, c => Items(Child(c, "scopes")).Select(n => ((YamlScalarNode)n).Value!).ToList() is { Count: > 0 } scoped ? scoped : PlatformApps.ToList());
        Assert.True(stores.Count >= 3, $"{overlay}: expected the shared store and the apps' own ({string.Join(", ", stores.Keys)})");
        // Each store reads its own place with its own credentials: a store of one app pointed at the shared prefix, or
        // holding the shared token, would be the shared store under another name.
        var places = storeComponents.Select(c => (Name: Scalar(Child(c, "metadata"), "name")!, Items(Child(Child(c, "spec"), "metadata")).ToList()))
            .Select(c => (c.Name, Prefix: c.Item2.Select(m => Scalar(m, "name") == "vaultKVPrefix" ? Scalar(m, "value") : null).OfType<string>().SingleOrDefault(),
                Token: c.Item2.Select(m => Scalar(m, "name") == "vaultToken" ? Scalar(Child(m, "secretKeyRef"), "name") : null).OfType<string>().SingleOrDefault())).ToList();
        Assert.Equal(places.Count, places.Select(p => p.Prefix).Distinct().Count());
        Assert.Equal(places.Count, places.Select(p => p.Token).Distinct().Count());
        // An app told to read its secrets from a store of its own (Agents__SecretStore, Providers__SecretStore) reads one
        // that app alone loads.
        foreach (var deployment in rendered.Typed<V1Deployment>("Deployment"))
        {
            var app = deployment.Spec.Template.Metadata.Annotations?.TryGetValue("dapr.io/app-id", out var id) == true ? id : null;
            foreach (var env in deployment.Spec.Template.Spec.Containers.SelectMany(c => c.Env ?? []).Where(e => e.Name.EndsWith("__SecretStore", StringComparison.Ordinal)))
            {
                Assert.True(stores.TryGetValue(env.Value, out var loadedBy) && loadedBy.SequenceEqual([app!]), $"{overlay}: {app} reads {env.Name}={env.Value}, a store not its alone");
            }
        }
        Assert.True(rendered.Typed<V1Deployment>("Deployment").Count(d => d.Spec.Template.Spec.Containers.Any(c => c.Env?.Any(e => e.Name.EndsWith("__SecretStore", StringComparison.Ordinal)) == true)) >= 2,
            $"{overlay}: agents and providers name their own stores");
        var resolved = rendered.Custom("Component").Where(c => Scalar(Child(c, "auth"), "secretStore") is { } store && stores.ContainsKey(store))
            .SelectMany(c => Items(Child(Child(c, "spec"), "metadata")).Select(m => Scalar(Child(m, "secretKeyRef"), "name")).OfType<string>()).ToHashSet();
        Assert.Contains("s3", resolved);
        var allowedBy = new Dictionary<(string Store, string Secret), string>();
        foreach (var configuration in rendered.Custom("Configuration"))
        {
            var app = Scalar(Child(configuration, "metadata"), "name")!;
            var scopes = Items(Child(Child(Child(configuration, "spec"), "secrets"), "scopes")).ToDictionary(scope => Scalar(scope, "storeName")!);
            // daprd's built-in store of Kubernetes secrets (the Vault tokens): no app reads it; components' references
            // to it are resolved by the operator.
            Assert.True(scopes.TryGetValue("kubernetes", out var kubernetes) && Scalar(kubernetes, "defaultAccess") == "deny" && Child(kubernetes, "allowedSecrets") is null,
                $"{overlay}: {app} may read the kubernetes secret store");
            foreach (var (store, loadedBy) in stores.Where(s => s.Value.Contains(app)))
            {
                if (loadedBy.Count == 1)
                {
                    continue;
                }
                Assert.True(scopes.TryGetValue(store, out var scope), $"{overlay}: {app} loads the shared store {store} with no scope (allow all)");
                Assert.True(Scalar(scope, "defaultAccess") == "deny", $"{overlay}: {app} may read every secret of the shared store {store}");
                foreach (var secret in Items(Child(scope, "allowedSecrets")).Select(n => ((YamlScalarNode)n).Value!))
                {
                    Assert.DoesNotContain(secret, resolved);
                    Assert.True(allowedBy.TryAdd((store, secret), app), $"{overlay}: {secret} is allowed to {app} and to {allowedBy.GetValueOrDefault((store, secret))}");
                }
            }
        }
    }

    /// <summary>
    /// Locally one file store holds every secret (development values), and agents and providers, which read names of a
    /// prefix, allow by default: each secret of the files, and each secret another app is allowed by name, must be denied
    /// to them by name (Dapr lists exact names only, so a new secret is easily missed); every other app denies by default.
    /// </summary>
    [Fact]
    public void SecretScopes_DenyEveryOtherAppsSecret_InTheLocalRun()
    {
        var configurations = Directory.GetFiles(Path.Combine(Repo, "dapr-config"), "*.yaml").Select(file =>
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(file)));
            return (YamlMappingNode)stream.Documents[0].RootNode;
        }).Where(c => Scalar(c, "kind") == "Configuration" && Scalar(Child(c, "metadata"), "name") is { } name && PlatformApps.Contains(name)).ToList();
        Assert.Equal(PlatformApps.Length, configurations.Count);
        // The file stores' names, flattened as the store flattens them (nestedSeparator ':').
        static IEnumerable<string> Flatten(System.Text.Json.JsonElement node, string prefix) => node.ValueKind == System.Text.Json.JsonValueKind.Object
            ? node.EnumerateObject().SelectMany(p => Flatten(p.Value, prefix.Length == 0 ? p.Name : prefix + ":" + p.Name))
            : [prefix];
        var held = Directory.GetFiles(Path.Combine(Repo, "components"), "secrets.json", SearchOption.AllDirectories)
            .SelectMany(file => Flatten(System.Text.Json.JsonDocument.Parse(File.ReadAllText(file)).RootElement, "")).ToHashSet();
        Assert.Contains("postgres:connectionString", held);
        var scopes = configurations.Select(c => (App: Scalar(Child(c, "metadata"), "name")!,
            Scope: Items(Child(Child(Child(c, "spec"), "secrets"), "scopes")).SingleOrDefault(scope => Scalar(scope, "storeName") == "secretstore"))).ToList();
        var owned = scopes.SelectMany(s => Items(Child(s.Scope, "allowedSecrets")).Select(n => (s.App, Secret: ((YamlScalarNode)n).Value!))).ToList();
        foreach (var (app, scope) in scopes)
        {
            Assert.True(scope is not null, $"dapr-config: {app} has no scope on secretstore (allow all)");
            if (Scalar(scope, "defaultAccess") == "deny")
            {
                continue;
            }
            Assert.Contains(app, new[] { "agents", "providers" });
            var denied = Items(Child(scope, "deniedSecrets")).Select(n => ((YamlScalarNode)n).Value!).ToHashSet();
            foreach (var secret in held.Concat(owned.Where(o => o.App != app).Select(o => o.Secret)))
            {
                Assert.True(denied.Contains(secret), $"dapr-config: {app} may read {secret} (allow by default, not in deniedSecrets)");
            }
        }
    }

    /// <summary>Dapr's operation names: '*' one path segment, a trailing '/**' any number of them.</summary>
    private static bool Matches(string pattern, string path)
    {
        var regex = "^" + Regex.Escape(pattern).Replace(@"/\*\*", "(/.+)?").Replace(@"\*", "[^/]+") + "$";
        return Regex.IsMatch(path, regex);
    }
}
