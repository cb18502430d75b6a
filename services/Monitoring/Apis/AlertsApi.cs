using AgenticFlow.Monitoring.Alerts;
using AgenticFlow.Monitoring.Domain;
using AgenticFlow.ServiceDefaults;
using Microsoft.AspNetCore.Mvc;

namespace AgenticFlow.Monitoring.Apis;

public sealed record AlertNotifyInput(string? Topic, string? Webhook);

public sealed record CreateAlertRequest(
    string? Name, string? Metric, Dictionary<string, string>? Filter, string? Aggregation, string? Comparator, double? Threshold,
    int? WindowSeconds, int? ForSeconds, string? Severity, AlertNotifyInput? Notify);

public sealed record SilenceRequest(int? Seconds);

public sealed record AlertRuleView(AlertRule Rule, double? LastValue);

/// <summary><c>/api/v1/alerts</c>: rules (operators write, every role reads), silences and the firing/resolved history.</summary>
public static class AlertsApi
{
    public static readonly string[] Severities = ["info", "warning", "critical"];

    public static RouteGroupBuilder MapAlertsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/alerts").WithTags("Alerts").RequirePlatformRole();
        api.MapPost("/", Create).WithName("CreateAlertRule");
        api.MapGet("/", List).WithName("ListAlertRules");
        api.MapGet("/events", Events).WithName("ListAlertEvents");
        api.MapGet("/{id}", Get).WithName("GetAlertRule");
        api.MapDelete("/{id}", Delete).WithName("DeleteAlertRule");
        api.MapPost("/{id}/silence", Silence).WithName("SilenceAlertRule");
        return api;
    }

    public static async Task<IResult> Create(HttpRequest http, [FromBody] CreateAlertRequest request, AlertStore store, TimeProvider time,
        Microsoft.Extensions.Options.IOptions<MonitoringOptions> options, CancellationToken ct)
    {
        if (MonitoringProblems.RequireOperator(http) is { } refused)
        {
            return refused;
        }
        var errors = Validate(request, options.Value.AllowPrivateWebhooks);
        if (errors.Count > 0)
        {
            return MonitoringProblems.Invalid(errors);
        }
        var rule = new AlertRule(Guid.NewGuid().ToString("N")[..16], request.Name!.Trim(), request.Metric!, request.Filter ?? [], request.Aggregation!,
            request.Comparator!, request.Threshold!.Value, request.WindowSeconds ?? 60, request.ForSeconds ?? 0, request.Severity ?? "warning",
            new AlertNotify(NullIfEmpty(request.Notify?.Topic), NullIfEmpty(request.Notify?.Webhook)), time.GetUtcNow());
        await store.ChangeRuleAsync(rule.Id, _ => rule, ct);
        return TypedResults.Created($"/api/v1/alerts/{rule.Id}", new AlertRuleView(rule, null));
    }

    public static Dictionary<string, string[]> Validate(CreateAlertRequest? request, bool allowPrivateWebhooks)
    {
        var errors = new Dictionary<string, string[]>();
        if (request is null)
        {
            errors["body"] = ["A rule is required."];
            return errors;
        }
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 200)
        {
            errors["name"] = ["Required, at most 200 characters."];
        }
        if (string.IsNullOrWhiteSpace(request.Metric) || request.Metric.Length > 200)
        {
            errors["metric"] = ["Required, at most 200 characters."];
        }
        if (request.Filter is { } filter && (filter.Count > 20 || filter.Any(f => f.Key.Length is 0 or > 100 || f.Value is null || f.Value.Length > 200)))
        {
            errors["filter"] = ["At most 20 entries, keys 1-100 and values up to 200 characters."];
        }
        if (!Aggregations.IsKnown(request.Aggregation))
        {
            errors["aggregation"] = ["One of " + string.Join(", ", Aggregations.All) + "."];
        }
        if (request.Comparator is null || !Comparators.All.Contains(request.Comparator))
        {
            errors["comparator"] = ["One of " + string.Join(", ", Comparators.All) + "."];
        }
        if (request.Threshold is not { } t || !double.IsFinite(t))
        {
            errors["threshold"] = ["Required, a finite number."];
        }
        if (request.WindowSeconds is < 1 or > 86_400)
        {
            errors["windowSeconds"] = ["Between 1 and 86400."];
        }
        if (request.ForSeconds is < 0 or > 86_400)
        {
            errors["forSeconds"] = ["Between 0 and 86400."];
        }
        if (request.Severity is not null && !Severities.Contains(request.Severity))
        {
            errors["severity"] = ["One of " + string.Join(", ", Severities) + "."];
        }
        if (request.Notify?.Topic is { Length: > 0 } topic && (topic.Length > 200 || topic.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))))
        {
            errors["notify.topic"] = ["At most 200 characters, no spaces."];
        }
        if (request.Notify?.Webhook is { Length: > 0 } webhook && WebhookTargets.Refusal(webhook, allowPrivateWebhooks) is { } why)
        {
            errors["notify.webhook"] = [why];
        }
        return errors;
    }

    public static async Task<IResult> List(HttpRequest http, AlertStore store, AlertEvaluator evaluator, CancellationToken ct) =>
        TypedResults.Ok((await store.ListAsync(ct)).OrderBy(r => r.CreatedAt).Select(r => View(http, r, evaluator)).ToList());

    public static async Task<IResult> Get(HttpRequest http, string id, AlertStore store, AlertEvaluator evaluator, CancellationToken ct) =>
        await store.GetAsync(id, ct) is { } rule ? TypedResults.Ok(View(http, rule, evaluator)) : MonitoringProblems.Missing("alert rule", id);

    /// <summary>The rule as the caller may see it: webhook URLs (often holding a token) in full only for operators and admins.</summary>
    private static AlertRuleView View(HttpRequest http, AlertRule rule, AlertEvaluator evaluator)
    {
        var shown = MonitoringProblems.RequireOperator(http) is null || rule.Notify.Webhook is null
            ? rule
            : rule with { Notify = rule.Notify with { Webhook = WebhookTargets.Redact(rule.Notify.Webhook) } };
        return new AlertRuleView(shown, evaluator.LastValues.GetValueOrDefault(rule.Id));
    }

    public static async Task<IResult> Delete(HttpRequest http, string id, AlertStore store, CancellationToken ct)
    {
        if (MonitoringProblems.RequireOperator(http) is { } refused)
        {
            return refused;
        }
        return await store.ChangeRuleAsync(id, _ => null, ct) is not null
            ? TypedResults.NoContent()
            : MonitoringProblems.Missing("alert rule", id);
    }

    /// <summary>No notifications for <c>seconds</c> (0 lifts the silence); transitions are still stored, marked silenced.</summary>
    public static async Task<IResult> Silence(HttpRequest http, string id, [FromBody] SilenceRequest request, AlertStore store, TimeProvider time, CancellationToken ct)
    {
        if (MonitoringProblems.RequireOperator(http) is { } refused)
        {
            return refused;
        }
        if (request?.Seconds is not (>= 0 and <= 30 * 86_400))
        {
            return MonitoringProblems.Invalid("seconds", "Between 0 and 2592000.");
        }
        var until = request.Seconds == 0 ? (DateTimeOffset?)null : time.GetUtcNow().AddSeconds(request.Seconds.Value);
        if (await store.ChangeRuleAsync(id, r => r is null ? null : r with { SilencedUntil = until }, ct) is not { } rule)
        {
            return MonitoringProblems.Missing("alert rule", id);
        }
        return TypedResults.Ok(new AlertRuleView(rule with { SilencedUntil = until }, null));
    }

    public static async Task<IResult> Events(AlertStore store, string? ruleId = null, int? limit = null, CancellationToken ct = default)
    {
        if (limit is < 1 or > AlertStore.MaxEvents)
        {
            return MonitoringProblems.Invalid("limit", $"Between 1 and {AlertStore.MaxEvents}.");
        }
        var events = (await store.EventsAsync(ct)).Where(e => ruleId is null || e.RuleId == ruleId).Reverse().Take(limit ?? 100).ToList();
        return TypedResults.Ok(events);
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
