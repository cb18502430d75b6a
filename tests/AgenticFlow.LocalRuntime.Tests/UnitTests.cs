using System.Text;
using System.Text.Json;
using AgenticFlow.LocalRuntime.Bindings;
using AgenticFlow.LocalRuntime.Cli;
using AgenticFlow.LocalRuntime.Components;
using AgenticFlow.LocalRuntime.Hosting;
using AgenticFlow.LocalRuntime.PubSub;
using AgenticFlow.LocalRuntime.State;
using AgenticFlow.LocalRuntime.Timing;

namespace AgenticFlow.LocalRuntime.Tests;

public sealed class CronScheduleTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 10, 15, 30, TimeSpan.Zero);

    [Theory]
    [InlineData("@every 90s", "2026-11-25T10:17:00Z")]
    [InlineData("0 */5 * * * *", "2026-11-25T10:20:00Z")]
    [InlineData("*/10 * * * *", "2026-11-25T10:20:00Z")]
    [InlineData("@daily", "2026-11-26T00:00:00Z")]
    [InlineData("30 15 10 * * *", "2026-11-26T10:15:30Z")]
    [InlineData("0 0 9 * * 1-5", "2026-11-26T09:00:00Z")]
    public void Next_IsTheFirstFiringAfterTheGivenTime(string schedule, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), CronSchedule.Parse(schedule).Next(Start));

    [Theory]
    [InlineData("* * *")]
    [InlineData("61 * * * * *")]
    [InlineData("@every soon")]
    [InlineData("*/0 * * * * *")]
    public void Parse_RejectsMalformedSchedules(string schedule) =>
        Assert.ThrowsAny<FormatException>(() => CronSchedule.Parse(schedule));
}

public sealed class RouteRuleTests
{
    private static readonly JsonElement Event = JsonDocument.Parse("""{"type":"order.created","source":"shop","data":{"amount":250,"region":"eu-west","vip":true}}""").RootElement;

    [Theory]
    [InlineData("event.type == \"order.created\"", true)]
    [InlineData("event.type != 'order.created'", false)]
    [InlineData("event.data.amount > 100 && event.data.vip", true)]
    [InlineData("event.data.amount <= 100 || event.source == \"shop\"", true)]
    [InlineData("!(event.data.amount >= 250)", false)]
    [InlineData("event.data.region.startsWith(\"eu-\")", true)]
    [InlineData("has(event.data.coupon)", false)]
    [InlineData("event.data.missing == \"x\"", false)]
    public void Matches_EvaluatesTheExpressionAgainstTheCloudEvent(string rule, bool expected) =>
        Assert.Equal(expected, RouteRule.Parse(rule).Matches(Event));

    [Theory]
    [InlineData("type == \"x\"")]
    [InlineData("event.type == ")]
    [InlineData("event.type == \"x\" extra")]
    public void Parse_RejectsExpressionsOutsideTheSubset(string rule) =>
        Assert.ThrowsAny<FormatException>(() => RouteRule.Parse(rule));
}

public sealed class StateQueryTests
{
    private static (string, StateItem) Item(string key, string json) => (key, new StateItem(Encoding.UTF8.GetBytes(json), "1", null));

    [Fact]
    public void Apply_FiltersSortsAndPagesJsonValues()
    {
        var items = new[]
        {
            Item("a", """{"p":{"org":"dev","id":3}}"""), Item("b", """{"p":{"org":"ops","id":1}}"""),
            Item("c", """{"p":{"org":"dev","id":2}}"""), Item("d", "not json"), Item("e", """{"p":{"org":"fin","id":9}}"""),
        };
        var query = StateQuery.Parse("""{"filter":{"AND":[{"NEQ":{"p.org":"fin"}},{"GTE":{"p.id":2}}]},"sort":[{"key":"p.id"}],"page":{"limit":1}}""");

        var (page, token) = query.Apply(items);
        var (rest, end) = StateQuery.Parse("""{"filter":{"AND":[{"NEQ":{"p.org":"fin"}},{"GTE":{"p.id":2}}]},"sort":[{"key":"p.id"}],"page":{"limit":1,"token":"1"}}""").Apply(items);

        Assert.Equal(["c"], page.Select(p => p.Key));
        Assert.Equal("1", token);
        Assert.Equal(["a"], rest.Select(p => p.Key));
        Assert.Null(end);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""{"filter":{"EQ":{"a":1},"IN":{"b":[1]}}}""")]
    [InlineData("""{"filter":{"AND":[{"EQ":{"a":1}}]}}""")]
    [InlineData("""{"sort":[{"key":"a","order":"UP"}]}""")]
    [InlineData("""{"page":{"limit":2,"token":"abc"}}""")]
    public void Parse_RejectsMalformedQueries(string query) =>
        Assert.ThrowsAny<FormatException>(() => StateQuery.Parse(query));
}

public sealed class OptionsAndFilesTests
{
    [Fact]
    public void SidecarOptions_AcceptDaprdFlags()
    {
        var options = SidecarOptions.Parse(
            ["--app-id", "orders", "--app-port=5000", "--dapr-http-port", "3600", "--dapr-grpc-port", "50010", "--resources-path", "a", "--resources-path", "b", "--app-protocol", "http", "--placement-host-address", "localhost:50005", "--log-level", "debug"],
            name => name == "DAPR_API_TOKEN" ? "tok" : null);

        Assert.Equal("orders", options.AppId);
        Assert.Equal(5000, options.AppPort);
        Assert.Equal(3600, options.HttpPort);
        Assert.Equal(50010, options.GrpcPort);
        Assert.Equal(["a", "b"], options.ResourcesPaths);
        Assert.Equal("tok", options.DaprApiToken);
        Assert.Null(options.AppApiToken);
    }

    [Theory]
    [InlineData("--app-port", "5000")]
    [InlineData("--app-id", "x", "--app-protocol", "grpc")]
    [InlineData("--app-id", "x", "--app-port", "99999")]
    [InlineData("--app-id", "x", "--bogus", "1")]
    public void SidecarOptions_RejectBadFlags(params string[] args) =>
        Assert.Throws<ArgumentException>(() => SidecarOptions.Parse(args, _ => null));

    [Theory]
    [InlineData("1h2m3s", 3723000)]
    [InlineData("500ms", 500)]
    [InlineData("1.5s", 1500)]
    [InlineData("30", 30000)]
    public void DurationParser_ReadsGoDurations(string text, double milliseconds) =>
        Assert.Equal(milliseconds, DurationParser.Parse(text).TotalMilliseconds);

    [Fact]
    public void RepositoryRunFileAndComponents_LoadAndUseOnlySupportedTypes()
    {
        var root = RepositoryRoot();
        var apps = RunFile.Load(Path.Combine(root, "dapr.yaml"));
        Assert.NotEmpty(apps);
        foreach (var app in apps)
        {
            Assert.All(app.ResourcesPaths, p => Assert.True(Directory.Exists(p), p));
            ComponentRegistry.Validate(ResourceLoader.Load(app.ResourcesPaths));
            // Every app runs with its own Configuration, found where the Dapr CLI looks (relative to appDirPath).
            Assert.Equal(Path.Combine(root, "dapr-config", app.AppId + ".yaml"), app.ConfigPath);
            Assert.True(File.Exists(app.ConfigPath), app.ConfigPath);
            Assert.NotEmpty(ResourceLoader.LoadSecretScopes(app.ConfigPath).ByStore);
        }
        foreach (var profile in Directory.GetDirectories(Path.Combine(root, "components")))
        {
            var set = ResourceLoader.Load([profile]);
            Assert.NotEmpty(set.Components);
            ComponentRegistry.Validate(set);
            Assert.All(set.Components, c => Assert.NotEmpty(c.Scopes));
        }
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticFlow.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("AgenticFlow.sln not found above the test folder");
    }
}

public sealed class ColocatedSidecarsTests
{
    [Fact]
    public void ASidecarOfThisProcess_IsFoundOnlyUnderTheIdentityAndKeyTheRegistryNames()
    {
        var folder = Directory.CreateTempSubdirectory("colocated-").FullName;
        try
        {
            var self = new AgenticFlow.LocalRuntime.Peers.SidecarIdentity("orders", "1-3500", AgenticFlow.LocalRuntime.Peers.NameRegistry.NewPeerKey(), 1);
            var targets = new AgenticFlow.LocalRuntime.Peers.InvocationTargets(self, new AgenticFlow.LocalRuntime.Peers.NameRegistry(folder), null, () => new HttpClient());
            var address = new AgenticFlow.LocalRuntime.Peers.SidecarAddress("orders", "1-3500", 3500, 31100, Environment.ProcessId, self.PeerKey);
            AgenticFlow.LocalRuntime.Peers.ColocatedSidecars.Add(self, targets);

            Assert.Same(targets, AgenticFlow.LocalRuntime.Peers.ColocatedSidecars.Find(address));
            // A registry entry with another key is another incarnation of that sidecar (started again): called over HTTP.
            Assert.Null(AgenticFlow.LocalRuntime.Peers.ColocatedSidecars.Find(address with { PeerKey = AgenticFlow.LocalRuntime.Peers.NameRegistry.NewPeerKey() }));
            Assert.Null(AgenticFlow.LocalRuntime.Peers.ColocatedSidecars.Find(address with { InstanceId = "2-3500" }));

            AgenticFlow.LocalRuntime.Peers.ColocatedSidecars.Remove(self);
            Assert.Null(AgenticFlow.LocalRuntime.Peers.ColocatedSidecars.Find(address));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
